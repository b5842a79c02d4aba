package dev.zenith.cli;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * Command-line arguments after the command words: {@code -n NAME}, {@code --name NAME},
 * {@code --name=NAME}, boolean flags, and positional arguments. Unknown options are errors.
 */
final class Args {
    private final Map<String, String> options = new LinkedHashMap<>();
    private final List<String> positional = new ArrayList<>();

    /**
     * @param valued option names that take a value, long form without dashes; a one-letter alias maps
     *               to its long form through {@code aliases}
     * @param flags  option names without a value
     */
    static Args parse(List<String> argv, Set<String> valued, Set<String> flags, Map<String, String> aliases) {
        Args a = new Args();
        for (int i = 0; i < argv.size(); i++) {
            String arg = argv.get(i);
            if (arg.equals("--")) {
                a.positional.addAll(argv.subList(i + 1, argv.size()));
                break;
            }
            if (!arg.startsWith("-") || arg.equals("-")) {
                a.positional.add(arg);
                continue;
            }
            String key;
            String inline = null;
            if (arg.startsWith("--")) {
                key = arg.substring(2);
                int eq = key.indexOf('=');
                if (eq >= 0) {
                    inline = key.substring(eq + 1);
                    key = key.substring(0, eq);
                }
            } else {
                key = aliases.getOrDefault(arg.substring(1), "");
                if (key.isEmpty()) {
                    throw new CliException("unknown option " + arg);
                }
            }
            if (a.options.containsKey(key)) { // "-n a -n b" would otherwise quietly mean b
                throw new CliException("option --" + key + " given twice");
            }
            if (flags.contains(key)) {
                if (inline != null) {
                    throw new CliException("option --" + key + " takes no value");
                }
                a.options.put(key, "true");
            } else if (valued.contains(key)) {
                String value = inline;
                if (value == null) {
                    if (i + 1 >= argv.size()) {
                        throw new CliException("option " + arg + " needs a value");
                    }
                    value = argv.get(++i);
                }
                a.options.put(key, value);
            } else {
                throw new CliException("unknown option " + arg);
            }
        }
        return a;
    }

    String get(String key) {
        return options.get(key);
    }

    String require(String key, String what) {
        String v = options.get(key);
        if (v == null) {
            throw new CliException("missing " + what + " (--" + key + ")");
        }
        return v;
    }

    boolean flag(String key) {
        return options.containsKey(key);
    }

    /** For commands that take only options: a stray word is a mistake, not something to ignore. */
    Args noPositional() {
        if (!positional.isEmpty()) {
            throw new CliException("unexpected argument" + (positional.size() > 1 ? "s " : " ") + String.join(" ", positional));
        }
        return this;
    }

    List<String> positional() {
        return positional;
    }
}
