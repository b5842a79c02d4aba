package dev.zenith.cli;

import com.fasterxml.jackson.databind.JsonNode;
import picocli.CommandLine.Command;

import java.util.ArrayList;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;

/**
 * {@code zenith tree} (= {@code pg list --tree}): each storage's timelines as a tree: which pg runs on
 * each, its snapshots, and where each branch (a pg's create, a checkout) left its parent.
 */
@Command(name = "tree", description = "Pgs and snapshots as a tree of branches (= pg list --tree).",
        footerHeading = "%nExample:%n", footer = "  zenith tree")
final class TreeCommand implements Callable<Integer> {
    private final Cli cli;

    TreeCommand(Cli cli) {
        this.cli = cli;
    }

    @Override
    public Integer call() {
        return print(cli);
    }

    /** One thing on a timeline at an LSN: a snapshot, or the start of a child timeline. */
    private record Item(long lsn, String lsnText, String snapshot, JsonNode child) {
    }

    static int print(Cli cli) {
        JsonNode timelines = cli.client().get("/timelines");
        JsonNode pgs = cli.client().get("/pgs");
        JsonNode snapshots = cli.client().get("/snapshots?sizes=false");
        if (cli.json()) {
            cli.out.println(DaemonClient.JSON.createObjectNode().<com.fasterxml.jackson.databind.node.ObjectNode>set("timelines", timelines)
                    .<com.fasterxml.jackson.databind.node.ObjectNode>set("pgs", pgs).set("snapshots", snapshots).toPrettyString());
            return 0;
        }
        Map<String, List<JsonNode>> pgsOn = new LinkedHashMap<>();
        pgs.forEach(p -> pgsOn.computeIfAbsent(p.path("timeline_id").asText(), k -> new ArrayList<>()).add(p));
        Map<String, List<Item>> items = new LinkedHashMap<>();
        List<JsonNode> roots = new ArrayList<>();
        for (JsonNode t : timelines) {
            if (t.hasNonNull("parent_id")) {
                items.computeIfAbsent(t.path("parent_id").asText(), k -> new ArrayList<>())
                        .add(new Item(lsn(t.path("branch_lsn").asText()), t.path("branch_lsn").asText(), null, t));
            } else {
                roots.add(t);
            }
        }
        snapshots.forEach(s -> items.computeIfAbsent(s.path("timeline_id").asText(), k -> new ArrayList<>())
                .add(new Item(lsn(s.path("lsn").asText()), s.path("lsn").asText(), s.path("name").asText(), null)));
        items.values().forEach(l -> l.sort(Comparator.comparingLong(Item::lsn)));
        roots.sort(Comparator.comparing(t -> t.path("storage_name").asText()));
        for (JsonNode root : roots) {
            cli.out.println(cli.styled("bold", "storage " + root.path("storage_name").asText()));
            cli.out.println(label(cli, root, pgsOn));
            children(cli, root.path("timeline_id").asText(), "", items, pgsOn);
        }
        return 0;
    }

    private static void children(Cli cli, String timeline, String indent, Map<String, List<Item>> items,
                                 Map<String, List<JsonNode>> pgsOn) {
        List<Item> list = items.getOrDefault(timeline, List.of());
        for (int i = 0; i < list.size(); i++) {
            Item it = list.get(i);
            boolean last = i == list.size() - 1;
            boolean box = cli.unicode(); // else ASCII, as tree --charset=ascii draws it
            String lead = indent + (last ? (box ? "└── " : "`-- ") : (box ? "├── " : "|-- "))
                    + String.format("%-11s ", it.lsnText());
            if (it.snapshot() != null) {
                cli.out.println(lead + "snapshot " + it.snapshot());
            } else {
                cli.out.println(lead + "branch: " + label(cli, it.child(), pgsOn));
                children(cli, it.child().path("timeline_id").asText(), indent + (last ? "    " : box ? "│   " : "|   "),
                        items, pgsOn);
            }
        }
    }

    private static String label(Cli cli, JsonNode timeline, Map<String, List<JsonNode>> pgsOn) {
        String id = timeline.path("timeline_id").asText();
        List<String> names = new ArrayList<>();
        for (JsonNode p : pgsOn.getOrDefault(id, List.of())) {
            names.add(p.path("name").asText() + " (" + cli.status(p.path("status").asText())
                    + (p.path("role").asText().equals("primary") ? "" : ", " + PgCommands.role(p)) + ")");
        }
        String who = names.isEmpty() ? "no pg" : "pg " + String.join(", ", names);
        return who + "  " + cli.styled("faint", "timeline " + id.substring(0, Math.min(8, id.length())));
    }

    private static long lsn(String text) {
        int slash = text.indexOf('/');
        try {
            return (Long.parseLong(text.substring(0, slash), 16) << 32) | Long.parseLong(text.substring(slash + 1), 16);
        } catch (RuntimeException e) {
            return 0;
        }
    }
}
