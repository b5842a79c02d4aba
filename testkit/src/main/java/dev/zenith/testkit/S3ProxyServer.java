package dev.zenith.testkit;

import dev.zenith.pgexec.FileTrees;

import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.net.HttpURLConnection;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Properties;
import java.util.UUID;
import java.util.concurrent.TimeUnit;

/**
 * A real S3-protocol server for tests: S3Proxy (Maven Central) with jclouds' filesystem backend,
 * on a free loopback port, run as a child JVM from its self-contained jar so its jetty, guava and
 * logback never meet the classpath under test. It can be stopped and started again on the same port
 * with the same data ("S3 down for a minute"), and made to fail writes with real 500 answers.
 *
 * <p>Buckets are directories of {@link #dataDir()} (the filesystem backend's containers); an object
 * is the file {@code dataDir/bucket/key}, so a test can flip a byte of it on disk.
 */
public final class S3ProxyServer implements AutoCloseable {
    public static final String REGION = "us-east-1";
    private static final long START_TIMEOUT_MILLIS = 60_000;

    private final Path root;
    private final Path dataDir;
    private final int port;
    private final String accessKey = "zenith-test-" + UUID.randomUUID().toString().substring(0, 8);
    private final String secretKey = UUID.randomUUID().toString();
    private Process process;
    private Thread shutdownHook;

    private S3ProxyServer(Path root, int port) {
        this.root = root;
        this.dataDir = root.resolve("data");
        this.port = port;
    }

    /** A started server over a fresh temp directory, with the given buckets. */
    public static S3ProxyServer start(String... buckets) throws IOException {
        Path root = Files.createTempDirectory(Path.of("/tmp"), "zenith-s3proxy-");
        S3ProxyServer s = new S3ProxyServer(root, PgCluster.freePort());
        Files.createDirectories(s.dataDir);
        for (String b : buckets) {
            s.createBucket(b);
        }
        s.writeProperties();
        s.startAgain();
        return s;
    }

    public URI endpoint() {
        return URI.create("http://127.0.0.1:" + port);
    }

    public int port() {
        return port;
    }

    public String accessKey() {
        return accessKey;
    }

    public String secretKey() {
        return secretKey;
    }

    /** JVM options that give a daemon run as its own process this server's credentials (the SDK's default chain). */
    public java.util.List<String> credentialOptions() {
        return java.util.List.of("-Daws.accessKeyId=" + accessKey, "-Daws.secretAccessKey=" + secretKey);
    }

    /** The filesystem backend's base directory: one directory per bucket. */
    public Path dataDir() {
        return dataDir;
    }

    /** The file that holds {@code key} of {@code bucket} in the backend. */
    public Path objectFile(String bucket, String key) {
        return dataDir.resolve(bucket).resolve(key);
    }

    /** A new empty bucket (a container directory of the backend); works while stopped too. */
    public void createBucket(String bucket) throws IOException {
        Files.createDirectories(dataDir.resolve(bucket));
    }

    public synchronized boolean isRunning() {
        return process != null && process.isAlive();
    }

    /** Starts the server again on the same port, with the same data and credentials. */
    public synchronized void startAgain() throws IOException {
        if (isRunning()) {
            return;
        }
        Path log = root.resolve("s3proxy.log");
        String java = Path.of(System.getProperty("java.home"), "bin", "java").toString();
        // The shell keeps our stdin: when this JVM dies (even killed), cat ends and the server goes too.
        String script = "exec 3<&0; \"$0\" -Xmx512m -XX:+UseSerialGC -XX:TieredStopAtLevel=1 -jar \"$1\" --properties \"$2\" <&- "
                + "& j=$!; { cat <&3 >/dev/null; kill $j 2>/dev/null; } & wait $j";
        ProcessBuilder pb = new ProcessBuilder("sh", "-c", script, java, serverJar().toString(),
                root.resolve("s3proxy.conf").toString());
        pb.redirectErrorStream(true).redirectOutput(ProcessBuilder.Redirect.appendTo(log.toFile()));
        pb.environment().put("LOG_LEVEL", "warn");
        process = pb.start();
        if (shutdownHook == null) {
            shutdownHook = new Thread(this::stopQuietly, "s3proxy-stop");
            Runtime.getRuntime().addShutdownHook(shutdownHook);
        }
        awaitAnswering(log);
    }

    /**
     * Freezes the server (SIGSTOP to its processes) until {@link #resume()}: the kernel still accepts connections and
     * takes the bytes sent, nothing is answered, as a server that hangs. Resume in a finally: other tests share it.
     */
    public synchronized void pause() throws IOException {
        signalAll("-STOP");
    }

    /** Lets a {@link #pause() paused} server go on (SIGCONT): what it was sent meanwhile is answered then. */
    public synchronized void resume() throws IOException {
        signalAll("-CONT");
    }

    private void signalAll(String signal) throws IOException {
        java.util.List<String> cmd = new java.util.ArrayList<>(java.util.List.of("kill", signal));
        process.descendants().forEach(h -> cmd.add(Long.toString(h.pid())));
        cmd.add(Long.toString(process.pid()));
        try {
            int code = new ProcessBuilder(cmd).redirectErrorStream(true).start().waitFor();
            if (code != 0) {
                throw new IOException(String.join(" ", cmd) + " exited with " + code);
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IOException("interrupted", e);
        }
    }

    /** Stops the server (the port refuses connections afterwards); data stays for {@link #startAgain()}. */
    public synchronized void stop() {
        if (process == null) {
            return;
        }
        process.descendants().forEach(ProcessHandle::destroyForcibly);
        process.destroyForcibly();
        try {
            process.waitFor(30, TimeUnit.SECONDS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        process = null;
        long deadline = System.currentTimeMillis() + 10_000;
        while (answers() && System.currentTimeMillis() < deadline) {
            sleep(50);
        }
    }

    /**
     * Makes every write to the bucket fail (true) or work again (false): the bucket's directories and
     * files become immutable ({@code chattr +i}), so the filesystem backend's writes fail even for root
     * and S3Proxy answers them with a real 500. Needs chattr and a filesystem that supports it.
     */
    public void failWrites(String bucket, boolean fail) throws IOException {
        run("chattr", "-R", fail ? "+i" : "-i", dataDir.resolve(bucket).toString());
    }

    /** Whether {@link #failWrites} can work here (chattr present and honoured by this filesystem). */
    public boolean canFailWrites() {
        try {
            Path probe = Files.createDirectories(root.resolve("chattr-probe"));
            run("chattr", "+i", probe.toString());
            boolean refused;
            try {
                Files.createFile(probe.resolve("x"));
                refused = false;
            } catch (IOException e) {
                refused = true;
            }
            run("chattr", "-i", probe.toString());
            return refused;
        } catch (IOException e) {
            return false;
        }
    }

    @Override
    public void close() {
        stopQuietly();
        if (shutdownHook != null) {
            try {
                Runtime.getRuntime().removeShutdownHook(shutdownHook);
            } catch (IllegalStateException ignored) {
                // already shutting down
            }
        }
        try {
            run("chattr", "-R", "-i", dataDir.toString());
        } catch (IOException ignored) {
            // nothing was made immutable, or chattr is missing
        }
        try {
            FileTrees.delete(root);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    private void stopQuietly() {
        stop();
    }

    private void writeProperties() throws IOException {
        Properties p = new Properties();
        p.setProperty("s3proxy.endpoint", endpoint().toString());
        p.setProperty("s3proxy.authorization", "aws-v2-or-v4");
        p.setProperty("s3proxy.identity", accessKey);
        p.setProperty("s3proxy.credential", secretKey);
        p.setProperty("jclouds.provider", "filesystem");
        p.setProperty("jclouds.filesystem.basedir", dataDir.toString());
        try (var out = Files.newOutputStream(root.resolve("s3proxy.conf"))) {
            p.store(out, "S3ProxyServer");
        }
    }

    private void awaitAnswering(Path log) throws IOException {
        long deadline = System.currentTimeMillis() + START_TIMEOUT_MILLIS;
        while (!answers()) {
            if (!process.isAlive() || System.currentTimeMillis() > deadline) {
                String tail = Files.exists(log) ? Files.readString(log, StandardCharsets.UTF_8) : "";
                stop();
                throw new IOException("S3Proxy did not start on port " + port + ": "
                        + tail.substring(Math.max(0, tail.length() - 4000)));
            }
            sleep(100);
        }
    }

    /** Whether an HTTP request to the port gets any answer (an anonymous request is refused, 403). */
    private boolean answers() {
        try {
            HttpURLConnection c = (HttpURLConnection) endpoint().toURL().openConnection();
            c.setConnectTimeout(1000);
            c.setReadTimeout(2000);
            try {
                return c.getResponseCode() > 0;
            } finally {
                c.disconnect();
            }
        } catch (IOException e) {
            return false;
        }
    }

    private static Path serverJar() throws IOException {
        Properties p = new Properties();
        try (InputStream in = S3ProxyServer.class.getResourceAsStream("s3proxy.properties")) {
            if (in == null) {
                throw new IOException("s3proxy.properties missing from the testkit");
            }
            p.load(in);
        }
        Path jar = Path.of(p.getProperty("jar", ""));
        if (!Files.isRegularFile(jar)) {
            throw new IOException("S3Proxy jar not found at '" + jar + "' (build the testkit with Maven)");
        }
        return jar;
    }

    private static void run(String... command) throws IOException {
        List<String> cmd = new ArrayList<>(List.of(command));
        Process p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
        try {
            String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
            if (p.waitFor() != 0) {
                throw new IOException(String.join(" ", cmd) + " failed: " + out.strip());
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IOException("interrupted", e);
        }
    }

    private static void sleep(long millis) {
        try {
            Thread.sleep(millis);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }
}
