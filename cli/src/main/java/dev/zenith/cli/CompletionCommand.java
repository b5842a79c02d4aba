package dev.zenith.cli;

import com.fasterxml.jackson.databind.JsonNode;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.ArgSpec;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Model.OptionSpec;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;

import java.util.ArrayList;
import java.util.List;
import java.util.TreeSet;
import java.util.concurrent.Callable;

/**
 * {@code zenith completion bash|zsh}: a script that asks {@code zenith __complete WORDS...} for the
 * candidates at each Tab, so commands and options come from the same model as the parser, and pg,
 * snapshot and storage names from the running daemon.
 */
@Command(name = "completion", description = "Print a shell completion script (bash or zsh).",
        footerHeading = "%nExamples:%n", footer = {"  source <(zenith completion bash)      # in ~/.bashrc",
        "  source <(zenith completion zsh)       # in ~/.zshrc, after compinit"})
final class CompletionCommand implements Callable<Integer> {
    private final Cli cli;

    @Parameters(paramLabel = "SHELL", description = "bash or zsh")
    String shell;

    CompletionCommand(Cli cli) {
        this.cli = cli;
    }

    @Override
    public Integer call() {
        switch (shell) {
            case "bash" -> cli.out.print("""
                    # zenith completion for bash: source <(zenith completion bash)
                    _zenith() {
                      local IFS=$'\\n'
                      COMPREPLY=($(compgen -W "$("${COMP_WORDS[0]}" __complete -- "${COMP_WORDS[@]:1:$COMP_CWORD}" 2>/dev/null)" -- "${COMP_WORDS[COMP_CWORD]}"))
                    }
                    complete -o default -F _zenith zenith ./zenith
                    """);
            case "zsh" -> cli.out.print("""
                    #compdef zenith
                    # zenith completion for zsh: source <(zenith completion zsh)
                    _zenith() {
                      local -a candidates
                      candidates=("${(@f)$(${words[1]} __complete -- "${(@)words[2,CURRENT]}" 2>/dev/null)}")
                      compadd -a candidates
                    }
                    compdef _zenith zenith ./zenith
                    """);
            default -> throw new CliException("no completion for shell '" + shell + "'; use bash or zsh", 2);
        }
        return 0;
    }

    /** The candidates for the last word, given the words before it. */
    @Command(name = "__complete", hidden = true)
    static final class Complete implements Callable<Integer> {
        private final Cli cli;

        @Spec
        CommandSpec spec;

        @Parameters(arity = "0..*")
        List<String> words = new ArrayList<>();

        Complete(Cli cli) {
            this.cli = cli;
        }

        @Override
        public Integer call() {
            List<String> w = words.isEmpty() ? List.of("") : words;
            CommandSpec at = spec.root();
            int positional = 0;
            ArgSpec expecting = null;
            for (String word : w.subList(0, w.size() - 1)) {
                if (expecting != null) {
                    expecting = null;
                } else if (at.subcommands().containsKey(word)) {
                    at = at.subcommands().get(word).getCommandSpec();
                    positional = 0;
                } else if (word.startsWith("-")) {
                    OptionSpec o = at.findOption(word);
                    expecting = o != null && o.arity().min() > 0 ? o : null;
                } else {
                    positional++;
                }
            }
            TreeSet<String> out = new TreeSet<>();
            String current = w.get(w.size() - 1);
            if (expecting != null) {
                out.addAll(names(expecting.paramLabel()));
            } else if (current.startsWith("-")) {
                at.options().stream().filter(o -> !o.hidden()).forEach(o -> out.addAll(List.of(o.names())));
            } else {
                at.subcommands().forEach((name, sub) -> {
                    if (!sub.getCommandSpec().usageMessage().hidden()) {
                        out.add(name);
                    }
                });
                if (out.isEmpty() || at.positionalParameters().size() > 0) {
                    for (var p : at.positionalParameters()) {
                        if (p.index().contains(positional) || p.index().max() == Integer.MAX_VALUE) {
                            out.addAll(names(p.paramLabel()));
                        }
                    }
                }
            }
            out.stream().filter(s -> s.startsWith(current)).forEach(cli.out::println);
            return 0;
        }

        /** Names from the running daemon for a parameter labelled PG, PG@SNAP, NAME (storage) and so on. */
        private List<String> names(String label) {
            List<String> found = new ArrayList<>();
            try {
                if (label.startsWith("PG@") || label.equals("PG@SNAP")) {
                    for (JsonNode s : cli.client().get("/snapshots?sizes=false")) {
                        found.add(s.path("name").asText());
                    }
                    for (JsonNode p : cli.client().get("/pgs")) {
                        found.add(p.path("name").asText() + "@CURRENT");
                    }
                } else if (label.startsWith("PG") || label.startsWith("NAME [SOURCE]")) {
                    for (JsonNode p : cli.client().get("/pgs")) {
                        found.add(p.path("name").asText());
                    }
                } else if (label.equals("STORAGE") || label.equals("NAME")) {
                    for (JsonNode s : cli.client().get("/storages")) {
                        found.add(s.path("name").asText());
                    }
                } else if (label.equals("FORMAT")) {
                    found.addAll(List.of("table", "wide", "json"));
                } else if (label.equals("SHELL")) {
                    found.addAll(List.of("bash", "zsh"));
                }
            } catch (CliException e) {
                // no daemon: no names
            }
            return found;
        }
    }
}
