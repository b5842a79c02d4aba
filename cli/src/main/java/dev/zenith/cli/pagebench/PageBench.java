package dev.zenith.cli.pagebench;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.zenith.protocol.pagestream.GetPageRequest;
import dev.zenith.protocol.pagestream.GetPageResponse;
import dev.zenith.protocol.pagestream.PagestreamErrorResponse;
import dev.zenith.protocol.pagestream.PagestreamResponse;
import dev.zenith.protocol.pagestream.PagestreamVersion;
import dev.zenith.protocol.pagestream.RelationKey;
import dev.zenith.protocol.pagestream.RequestHeader;
import dev.zenith.wal.Lsn;
import org.HdrHistogram.Histogram;

import java.io.IOException;
import java.io.PrintStream;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.Function;

/**
 * {@code zenith pagebench}: GetPage@LSN against the page service of a pg's timeline, with N connections
 * each keeping a queue depth of requests in flight, random blocks over every relation fork of the pg,
 * at the latest LSN, a fixed one or random ones in retention; and the same load against a loopback
 * echo peer (42 bytes in, 8 KiB out) in the same run, the physical limit. Prints answers per second,
 * then mean, p50, p90, p99, p99.9 and p99.99 latency, or all of it as JSON.
 */
public final class PageBench {
    /** What the command line asked for. {@code lsn}: "latest", "random" or an LSN. */
    public record Options(String pg, int connections, int depth, Duration duration, Duration warmup, String lsn,
                          PagestreamVersion version, Path verify, boolean json, boolean echo, String user,
                          String password, long seed) {
    }

    private static final ObjectMapper JSON = new ObjectMapper();

    private final Options o;
    private final Function<String, JsonNode> rest;
    private final String pgHost;
    private final int pgPort;
    private final PrintStream out;
    private final PrintStream err;

    /** {@code rest}: GET on the daemon's REST API; the page service listens on {@code pgHost:pgPort}. */
    public PageBench(Options options, Function<String, JsonNode> rest, String pgHost, int pgPort, PrintStream out,
                     PrintStream err) {
        this.o = options;
        this.rest = rest;
        this.pgHost = pgHost;
        this.pgPort = pgPort;
        this.out = out;
        this.err = err;
    }

    /** Runs the benchmark; the exit code is 1 when a page differs from the reference directory. */
    public int run() throws IOException, InterruptedException {
        JsonNode pg = rest.apply("/pgs/" + o.pg());
        String storage = pg.path("storage_name").asText();
        String tenant = rest.apply("/storages/" + storage).path("tenant_id").asText();
        String timeline = pg.path("timeline_id").asText();
        boolean fixed = !o.lsn().equals("latest") && !o.lsn().equals("random");
        JsonNode rels = rest.apply("/pgs/" + o.pg() + "/relations" + (fixed ? "?lsn=" + o.lsn() : ""));
        Lsn end = Lsn.parse(rels.path("lsn").asText());
        if (!rels.path("exact").asBoolean()) {
            err.println("pagebench: relation sizes at " + end + " are not exact (WAL since the image at "
                    + rels.path("image_lsn").asText() + "); the store answers exactly at its images only today, so expect"
                    + " 'not materialized' errors");
        }
        Lsn horizon = end;
        for (JsonNode t : rest.apply("/storages/" + storage + "/timelines")) {
            if (t.path("timeline_id").asText().equals(timeline)) {
                horizon = Lsn.parse(t.path("retention_horizon").asText(end.toString()));
            }
        }
        Map<RelationKey, Long> sizeOf = forks(rels);
        if (o.lsn().equals("random")) {
            // A relation created after a random LSN does not exist there (an error answer): random LSNs read the
            // forks that exist both at the retention horizon and at the end, at most as long as the shorter.
            Map<RelationKey, Long> atHorizon = forks(rest.apply("/pgs/" + o.pg() + "/relations?lsn=" + horizon));
            sizeOf.keySet().retainAll(atHorizon.keySet());
            sizeOf.replaceAll((k, n) -> Math.min(n, atHorizon.get(k)));
        }
        Workload workload = new Workload(new ArrayList<>(sizeOf.keySet()), new ArrayList<>(sizeOf.values()));
        LsnChoice lsns = new LsnChoice(o.lsn(), horizon, end);
        err.println("pagebench: pg " + o.pg() + " (tenant " + tenant + ", timeline " + timeline + "): " + workload.relations()
                + " relation forks, " + workload.blocks() + " blocks; " + o.connections() + " connection(s) x depth "
                + o.depth() + ", " + o.duration().toSeconds() + " s after " + o.warmup().toSeconds() + " s warm-up, LSN " + o.lsn());

        LoadRun.Result echo = null;
        if (o.echo()) {
            try (EchoPeer peer = new EchoPeer()) {
                List<EchoConnection> conns = new ArrayList<>();
                for (int i = 0; i < o.connections(); i++) {
                    conns.add(new EchoConnection(new EchoPeer.Client(peer.port())));
                }
                try {
                    echo = LoadRun.run("echo", conns, o.depth(), o.warmup(), o.duration(), err::println);
                } finally {
                    closeAll(conns);
                }
            }
        }
        LoadRun.Result pages;
        ReferenceDirectory reference = o.verify() == null ? null : new ReferenceDirectory(o.verify());
        List<PageConnection> conns = new ArrayList<>();
        try {
            for (int i = 0; i < o.connections(); i++) {
                PagestreamClient c = PagestreamClient.connect(pgHost, pgPort, o.user(), o.password());
                conns.add(new PageConnection(c, workload, lsns, reference, new Random(o.seed() + i)));
                c.openStream(o.version(), tenant, timeline);
            }
            pages = LoadRun.run("pages", conns, o.depth(), o.warmup(), o.duration(), err::println);
        } finally {
            closeAll(conns);
            if (reference != null) {
                reference.close();
            }
        }
        report(echo, pages);
        return pages.mismatches() > 0 ? 1 : 0;
    }

    private static void closeAll(List<? extends LoadRun.Connection> conns) {
        for (LoadRun.Connection c : conns) {
            try {
                c.close();
            } catch (IOException e) {
                // closing anyway
            }
        }
    }

    private void report(LoadRun.Result echo, LoadRun.Result pages) throws IOException {
        if (o.json()) {
            ObjectNode root = JSON.createObjectNode();
            root.put("pg", o.pg()).put("connections", o.connections()).put("depth", o.depth()).put("lsn", o.lsn())
                    .put("protocol", o.version().command()).put("verified", o.verify() != null);
            if (echo != null) {
                root.set("echo", json(echo));
            }
            root.set("pages", json(pages));
            if (echo != null) {
                root.put("p50_ratio_to_echo", ratio(pages.latencyNanos().getValueAtPercentile(50),
                        echo.latencyNanos().getValueAtPercentile(50)));
            }
            out.println(JSON.writerWithDefaultPrettyPrinter().writeValueAsString(root));
            return;
        }
        if (echo != null) {
            out.println(line(echo));
        }
        out.println(line(pages));
        if (pages.firstProblem() != null) {
            out.println("first problem: " + pages.firstProblem());
        }
        if (echo != null) {
            out.printf("p50 ratio pages/echo: %.2f%n", ratio(pages.latencyNanos().getValueAtPercentile(50),
                    echo.latencyNanos().getValueAtPercentile(50)));
        }
    }

    private static double ratio(long a, long b) {
        return b == 0 ? 0 : Math.round(100.0 * a / b) / 100.0;
    }

    private static final double[] PERCENTILES = {50, 90, 99, 99.9, 99.99};

    private static String line(LoadRun.Result r) {
        Histogram h = r.latencyNanos();
        StringBuilder b = new StringBuilder(String.format("%-5s %d conn x %d: %.0f answers/s, %d errors, %d mismatches; latency us: mean %.0f",
                r.name(), r.connections(), r.depth(), r.requestsPerSecond(), r.errors(), r.mismatches(), h.getMean() / 1000));
        for (double p : PERCENTILES) {
            b.append(String.format(", p%s %.0f", p == Math.rint(p) ? String.valueOf((int) p) : String.valueOf(p),
                    h.getValueAtPercentile(p) / 1000.0));
        }
        return b.append(String.format(", max %.0f", h.getMaxValue() / 1000.0)).toString();
    }

    private static ObjectNode json(LoadRun.Result r) {
        Histogram h = r.latencyNanos();
        ObjectNode n = JSON.createObjectNode();
        n.put("connections", r.connections()).put("depth", r.depth()).put("seconds", r.seconds())
                .put("requests", r.requests()).put("requests_per_second", Math.round(r.requestsPerSecond()))
                .put("errors", r.errors()).put("mismatches", r.mismatches()).put("answers_with_warmup", r.answers());
        if (r.firstProblem() != null) {
            n.put("first_problem", r.firstProblem());
        }
        ObjectNode lat = n.putObject("latency_us");
        lat.put("mean", Math.round(h.getMean() / 100.0) / 10.0);
        lat.put("p50", h.getValueAtPercentile(50) / 1000.0).put("p90", h.getValueAtPercentile(90) / 1000.0)
                .put("p99", h.getValueAtPercentile(99) / 1000.0).put("p99_9", h.getValueAtPercentile(99.9) / 1000.0)
                .put("p99_99", h.getValueAtPercentile(99.99) / 1000.0).put("max", h.getMaxValue() / 1000.0);
        ArrayNode ps = n.putArray("answers_per_second");
        r.perSecond().forEach(ps::add);
        return n;
    }

    /** The relation forks of a /relations listing with their sizes, in its order. */
    private static Map<RelationKey, Long> forks(JsonNode rels) {
        Map<RelationKey, Long> out = new LinkedHashMap<>();
        for (JsonNode r : rels.path("relations")) {
            out.put(new RelationKey((int) r.path("spc").asLong(), (int) r.path("db").asLong(), (int) r.path("rel").asLong(),
                    r.path("fork").asInt()), r.path("nblocks").asLong());
        }
        return out;
    }

    /** Which LSN each request reads at: the latest, one given, or a random one in retention. */
    record LsnChoice(String mode, Lsn horizon, Lsn end) {
        RequestHeader header(long reqid, Random random) {
            return switch (mode) {
                case "latest" -> new RequestHeader(reqid, RequestHeader.LATEST, end);
                case "random" -> {
                    Lsn at = horizon.plus((long) (random.nextDouble() * (end.minus(horizon) + 1)));
                    yield new RequestHeader(reqid, at, at);
                }
                default -> new RequestHeader(reqid, Lsn.parse(mode), Lsn.parse(mode));
            };
        }
    }

    /** A page stream doing random GetPages, checked against the reference directory when there is one. */
    private static final class PageConnection implements LoadRun.Connection {
        private final PagestreamClient client;
        private final Workload workload;
        private final LsnChoice lsns;
        private final ReferenceDirectory reference;
        private final Random random;
        private final ConcurrentLinkedQueue<GetPageRequest> sent = new ConcurrentLinkedQueue<>();
        private final AtomicLong nextId = new AtomicLong();

        PageConnection(PagestreamClient client, Workload workload, LsnChoice lsns, ReferenceDirectory reference, Random random) {
            this.client = client;
            this.workload = workload;
            this.lsns = lsns;
            this.reference = reference;
            this.random = random;
        }

        @Override
        public void send() throws IOException {
            Workload.Key k = workload.pick(random);
            GetPageRequest r = new GetPageRequest(lsns.header(nextId.getAndIncrement(), random), k.rel(), k.block());
            sent.add(r);
            client.send(r);
            client.flush();
        }

        @Override
        public LoadRun.Problem receive() throws IOException {
            GetPageRequest r = sent.poll();
            PagestreamResponse answer = client.receive(r);
            if (answer instanceof PagestreamErrorResponse e) {
                return new LoadRun.Problem(false, "block " + Integer.toUnsignedString(r.blockNumber()) + " of " + r.rel()
                        + ": " + e.message());
            }
            if (reference != null && !Arrays.equals(((GetPageResponse) answer).page(), reference.block(r.rel(), r.blockNumber()))) {
                return new LoadRun.Problem(true, "block " + Integer.toUnsignedString(r.blockNumber()) + " of " + r.rel().toRelTag().path()
                        + " differs from the reference directory");
            }
            return null;
        }

        @Override
        public void close() throws IOException {
            client.close();
        }
    }

    /** The echo peer's side of the comparison: the same send/receive loop, no page service. */
    private record EchoConnection(EchoPeer.Client client) implements LoadRun.Connection {
        @Override
        public void send() throws IOException {
            client.send();
        }

        @Override
        public LoadRun.Problem receive() throws IOException {
            client.receive();
            return null;
        }

        @Override
        public void close() throws IOException {
            client.close();
        }
    }
}
