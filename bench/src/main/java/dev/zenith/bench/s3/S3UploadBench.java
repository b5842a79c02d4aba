package dev.zenith.bench.s3;

import dev.zenith.objectstore.format.Manifest;
import dev.zenith.objectstore.s3.S3Clients;
import dev.zenith.objectstore.s3.S3Location;
import dev.zenith.objectstore.s3.S3ObjectStore;
import dev.zenith.objectstore.s3.S3Settings;
import dev.zenith.objectstore.transfer.Content;
import dev.zenith.objectstore.transfer.TransferSettings;
import dev.zenith.objectstore.transfer.Uploader;
import dev.zenith.testkit.S3ProxyServer;
import dev.zenith.wal.segment.WalGeometry;
import software.amazon.awssdk.core.async.AsyncRequestBody;
import software.amazon.awssdk.core.FileRequestBodyConfiguration;
import software.amazon.awssdk.services.s3.S3AsyncClient;
import software.amazon.awssdk.services.s3.model.CompletedPart;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.concurrent.CompletableFuture;

/**
 * Upload throughput of a WAL-like history (16 MiB segment files) to S3Proxy on loopback: zenith's
 * Uploader (content-addressed, zstd, verified frames, multipart above 8 MiB) against the SDK's own
 * plain multipart upload (8 MiB parts) of the same files to the same server, alternating, each round
 * to a fresh prefix (so nothing is skipped as already there). Throughput is content bytes per second.
 * Two data sets in one run: WAL-like segments (about a third random bytes: zstd shrinks them, which
 * favours us) and incompressible random segments (zstd saves nothing and costs its pass: the honest
 * ratio for the Uploader's own overhead). Arguments: [segments] [rounds] [wal|random|both].
 */
public final class S3UploadBench {
    private static final int SEGMENT = WalGeometry.WAL_SEGMENT_SIZE;

    public static void main(String[] args) throws Exception {
        int segments = args.length > 0 ? Integer.parseInt(args[0]) : 64;
        int rounds = args.length > 1 ? Integer.parseInt(args[1]) : 2;
        String data = args.length > 2 ? args[2] : "both";
        if (!List.of("wal", "random", "both").contains(data)) {
            throw new IllegalArgumentException("data is wal, random or both, not " + data);
        }
        List<String> rows = new ArrayList<>();
        try (S3ProxyServer s3 = S3ProxyServer.start("bench")) {
            for (String kind : data.equals("both") ? List.of("wal", "random") : List.of(data)) {
                Path dir = Files.createTempDirectory(Path.of("/tmp"), "zenith-s3bench-");
                try {
                    rows.add(measure(s3, kind, writeSegments(dir, segments, kind.equals("random")), rounds));
                } finally {
                    dev.zenith.pgexec.FileTrees.delete(dir);
                }
            }
        }
        System.out.println("| bench | zenith | peer (SDK multipart upload) | ratio |");
        System.out.println("|---|---|---|---|");
        rows.forEach(System.out::println);
    }

    private static String measure(S3ProxyServer s3, String kind, List<Path> files, int rounds) throws Exception {
        long bytes = (long) files.size() * SEGMENT;
        List<Double> ours = new ArrayList<>();
        List<Double> sdk = new ArrayList<>();
        long stored = 0;
        for (int r = 0; r < rounds; r++) {
            double[] o = uploadOurs(s3, files, "s3://bench/" + kind + "-ours-" + r);
            ours.add(bytes / o[0] / 1e6);
            stored = (long) o[1];
            sdk.add(bytes / uploadSdk(s3, files, kind + "-sdk-" + r) / 1e6);
            System.err.printf("%s round %d: zenith %.1f MB/s, SDK multipart %.1f MB/s%n", kind, r + 1, ours.get(r), sdk.get(r));
        }
        double o = median(ours);
        double p = median(sdk);
        String what = kind.equals("wal") ? "WAL-like segments" : "incompressible (random) segments";
        return String.format("| upload %d MiB of %s to S3Proxy (stored %.0f%% after zstd) | %.1f MB/s | %.1f MB/s | %.2f |",
                bytes >> 20, what, 100.0 * stored / bytes, o, p, o / p);
    }

    /** Seconds, and the bytes stored. */
    private static double[] uploadOurs(S3ProxyServer s3, List<Path> files, String url) throws Exception {
        S3Settings settings = S3Settings.of(S3Location.parse(url)).withEndpoint(s3.endpoint())
                .withCredentials(s3.accessKey(), s3.secretKey());
        try (S3ObjectStore store = S3ObjectStore.open(settings); Uploader up = new Uploader(store, TransferSettings.defaults())) {
            long t0 = System.nanoTime();
            List<CompletableFuture<Manifest.Entry>> all = new ArrayList<>();
            for (Path f : files) {
                all.add(up.upload(Content.ofFile(f, 0, SEGMENT), Map.of("kind", "wal")));
            }
            long stored = 0;
            for (CompletableFuture<Manifest.Entry> f : all) {
                stored += f.join().storedLength();
            }
            return new double[]{(System.nanoTime() - t0) / 1e9, stored};
        }
    }

    /**
     * The SDK's plain multipart upload of each file (create, 8 MiB parts read from the file by the
     * SDK, complete), all files at once over the same client settings as ours. (S3TransferManager
     * over the SDK's multipart client is refused by S3Proxy 2.6.0: 501 "a header you provided implies
     * functionality that is not implemented".)
     */
    private static double uploadSdk(S3ProxyServer s3, List<Path> files, String prefix) {
        S3Settings settings = S3Settings.of(S3Location.parse("s3://bench")).withEndpoint(s3.endpoint())
                .withCredentials(s3.accessKey(), s3.secretKey());
        long part = 8L << 20;
        try (S3AsyncClient client = S3Clients.create(settings)) {
            long t0 = System.nanoTime();
            List<CompletableFuture<?>> all = new ArrayList<>();
            for (Path f : files) {
                String key = prefix + "/" + f.getFileName();
                all.add(client.createMultipartUpload(r -> r.bucket("bench").key(key)).thenCompose(created -> {
                    List<CompletableFuture<CompletedPart>> parts = new ArrayList<>();
                    for (long off = 0; off < SEGMENT; off += part) {
                        int number = (int) (off / part) + 1;
                        long len = Math.min(part, SEGMENT - off);
                        AsyncRequestBody body = AsyncRequestBody.fromFile(FileRequestBodyConfiguration.builder()
                                .path(f).position(off).numBytesToRead(len).build());
                        parts.add(client.uploadPart(r -> r.bucket("bench").key(key).uploadId(created.uploadId())
                                        .partNumber(number).contentLength(len), body)
                                .thenApply(u -> CompletedPart.builder().partNumber(number).eTag(u.eTag()).build()));
                    }
                    return CompletableFuture.allOf(parts.toArray(CompletableFuture[]::new)).thenCompose(v ->
                            client.completeMultipartUpload(r -> r.bucket("bench").key(key).uploadId(created.uploadId())
                                    .multipartUpload(m -> m.parts(parts.stream().map(CompletableFuture::join).toList()))));
                }));
            }
            all.forEach(CompletableFuture::join);
            return (System.nanoTime() - t0) / 1e9;
        }
    }

    /**
     * Segments shaped like pgbench WAL: 8 KiB pages with headers, records of repeated shapes with
     * about a third random payload (real WAL compresses better than this); or all random bytes.
     */
    private static List<Path> writeSegments(Path dir, int n, boolean random) throws IOException {
        List<Path> files = new ArrayList<>();
        Random r = new Random(42);
        byte[] seg = new byte[SEGMENT];
        for (int s = 0; s < n; s++) {
            if (random) {
                r.nextBytes(seg);
            } else {
                for (int i = 0; i < SEGMENT; i++) {
                    int inPage = i & 8191;
                    seg[i] = inPage < 24 ? (byte) (s + (i >> 13)) : (i % 97 < 30 ? (byte) r.nextInt(256) : (byte) (i % 7));
                }
            }
            Path f = dir.resolve(String.format("%024X", s + 1));
            Files.write(f, seg);
            files.add(f);
        }
        return files;
    }

    private static double median(List<Double> xs) {
        List<Double> s = new ArrayList<>(xs);
        s.sort(Double::compare);
        return s.size() % 2 == 1 ? s.get(s.size() / 2) : (s.get(s.size() / 2 - 1) + s.get(s.size() / 2)) / 2;
    }
}
