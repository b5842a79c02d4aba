package dev.zenith.cli;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.ConnectException;
import java.net.HttpURLConnection;
import java.net.SocketTimeoutException;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.KeyStore;
import java.security.cert.CertificateFactory;
import java.security.cert.X509Certificate;
import java.time.Duration;
import java.util.List;
import java.util.Optional;
import javax.net.ssl.HttpsURLConnection;
import javax.net.ssl.SSLContext;
import javax.net.ssl.TrustManagerFactory;

/**
 * Talks to the daemon of one ZENITH_HOME over REST. Uses the JDK's HttpURLConnection rather than
 * java.net.http.HttpClient: every CLI command is a fresh JVM, and HttpClient's start-up alone took
 * ~0.85 s of a ~1.1 s `zenith status` on a 2-core machine (HttpURLConnection: ~0.1 s).
 */
final class DaemonClient {
    static final ObjectMapper JSON = new ObjectMapper();
    private static final int CONNECT_TIMEOUT_MS = (int) Duration.ofSeconds(5).toMillis();
    /**
     * Changes may take long (initdb, a rebuild of a big database from the store, a checkout, gc), and
     * snapshot reads queue behind them.
     */
    private static final int CHANGE_TIMEOUT_MS = (int) Duration.ofHours(2).toMillis();

    /**
     * How long to wait for an answer. Status, pgs and storages are answered from the daemon's memory at
     * once, whatever else it does: silent for a minute, it is stuck (tests shorten that).
     */
    private static int readTimeoutMs(String method, String path) {
        boolean atOnce = method.equals("GET")
                && (path.equals("/status") || path.startsWith("/pgs") || path.startsWith("/storages"));
        return atOnce ? Integer.getInteger("zenith.cliReadTimeoutMs", 60_000) : CHANGE_TIMEOUT_MS;
    }

    private final Home home;
    /** A request other than a GET was sent (it may have changed something, even if it failed). */
    private boolean askedForChange;

    DaemonClient(Home home) {
        this.home = home;
    }

    /** The daemon's base URL from daemon.json, if it wrote one. */
    Optional<String> baseUrl() {
        return daemonFile().map(d -> d.path("http_scheme").asText("http") + "://" + d.path("http_host").asText("127.0.0.1")
                + ":" + d.path("http_port").asInt());
    }

    private Optional<JsonNode> daemonFile() {
        Path f = home.daemonFile();
        if (!Files.exists(f)) {
            return Optional.empty();
        }
        try {
            return Optional.of(JSON.readTree(f.toFile()));
        } catch (IOException e) {
            return Optional.empty();
        }
    }

    /** The REST API's bearer token: the first line of ZENITH_HOME/api-token, which the daemon wrote (0600). */
    private Optional<String> token() {
        try {
            List<String> lines = Files.readAllLines(home.dir().resolve("api-token"), StandardCharsets.UTF_8);
            return lines.isEmpty() ? Optional.empty() : Optional.of(lines.get(0).trim());
        } catch (IOException e) {
            return Optional.empty(); // the daemon answers 401, which says where the token is
        }
    }

    /**
     * Over TLS (a daemon serving a non-loopback address), exactly the daemon's own certificate is trusted
     * (its path is in daemon.json), whatever name it was issued for: it is pinned, not looked up.
     */
    private void trustDaemonCertificate(HttpURLConnection c) throws IOException {
        if (!(c instanceof HttpsURLConnection https)) {
            return;
        }
        String certPath = daemonFile().map(d -> d.path("tls_cert").asText("")).orElse("");
        try (InputStream in = Files.newInputStream(Path.of(certPath))) {
            X509Certificate pinned = (X509Certificate) CertificateFactory.getInstance("X.509").generateCertificate(in);
            KeyStore trust = KeyStore.getInstance(KeyStore.getDefaultType());
            trust.load(null, null);
            trust.setCertificateEntry("zenith", pinned);
            TrustManagerFactory tmf = TrustManagerFactory.getInstance(TrustManagerFactory.getDefaultAlgorithm());
            tmf.init(trust);
            SSLContext ssl = SSLContext.getInstance("TLS");
            ssl.init(null, tmf.getTrustManagers(), null);
            https.setSSLSocketFactory(ssl.getSocketFactory());
            https.setHostnameVerifier((host, session) -> {
                try {
                    return session.getPeerCertificates()[0].equals(pinned);
                } catch (javax.net.ssl.SSLPeerUnverifiedException e) {
                    return false;
                }
            });
        } catch (java.security.GeneralSecurityException | RuntimeException e) {
            throw new IOException("cannot use the daemon's TLS certificate " + certPath + ": " + e.getMessage(), e);
        }
    }

    JsonNode get(String path) {
        return send("GET", path, null);
    }

    JsonNode put(String path, ObjectNode body) {
        return send("PUT", path, body);
    }

    JsonNode post(String path, ObjectNode body) {
        return send("POST", path, body);
    }

    JsonNode delete(String path) {
        return send("DELETE", path, null);
    }

    /** The home's real path when it exists (the daemon knows both its configured and its real path). */
    private String homeAsDaemonKnowsIt() {
        try {
            return home.dir().toRealPath().toString();
        } catch (IOException e) {
            return home.dir().toString();
        }
    }

    /** Sends a request; a non-2xx answer becomes a CliException carrying the daemon's error text. */
    JsonNode send(String method, String path, ObjectNode body) {
        return exchange(method, path, body, false).json();
    }

    /** An answer: its status, its JSON, and the job it started (Location of a 202), if any. */
    record Answer(int status, JsonNode json, String location) {
    }

    /**
     * A long action: asks the daemon to run it as a job ({@code Prefer: respond-async}) and follows the
     * job, showing its progress, until it ends; answers what the action answers.
     */
    JsonNode sendWithProgress(String method, String path, ObjectNode body, JobProgress progress) {
        Answer a = exchange(method, path, body, true);
        if (a.status() != 202 || a.location() == null) {
            return a.json(); // a daemon that answered at once
        }
        return progress.follow(this, a.location());
    }

    boolean askedForChange() {
        return askedForChange;
    }

    /** The one place requests are made (and their headers set). */
    Answer exchange(String method, String path, ObjectNode body, boolean async) {
        String base = baseUrl().orElseThrow(() -> notRunning());
        askedForChange |= !method.equals("GET");
        String location = null;
        int status;
        String text;
        try {
            HttpURLConnection c = (HttpURLConnection) URI.create(base + path).toURL().openConnection();
            trustDaemonCertificate(c);
            token().ifPresent(t -> c.setRequestProperty("Authorization", "Bearer " + t));
            c.setConnectTimeout(CONNECT_TIMEOUT_MS);
            c.setReadTimeout(readTimeoutMs(method, path));
            c.setRequestMethod(method);
            c.setRequestProperty("zenith-home", homeAsDaemonKnowsIt()); // RestApi.HOME_HEADER
            if (async) {
                c.setRequestProperty("prefer", "respond-async");
            }
            if (body != null) {
                byte[] bytes = body.toString().getBytes(StandardCharsets.UTF_8);
                c.setDoOutput(true);
                c.setRequestProperty("content-type", "application/json");
                c.setFixedLengthStreamingMode(bytes.length);
                try (OutputStream out = c.getOutputStream()) {
                    out.write(bytes);
                }
            }
            status = c.getResponseCode();
            location = c.getHeaderField("location");
            try (InputStream in = status / 100 == 2 ? c.getInputStream() : c.getErrorStream()) {
                text = in == null ? "" : new String(in.readAllBytes(), StandardCharsets.UTF_8);
            }
        } catch (ConnectException e) {
            throw notRunning();
        } catch (SocketTimeoutException e) {
            throw new CliException("the zenith daemon at " + base + " did not answer " + method + " " + path + " within "
                    + readTimeoutMs(method, path)
                    + " ms; it may be stuck: see " + home.logFile());
        } catch (IOException e) {
            throw new CliException("cannot reach the zenith daemon at " + base + ": " + e.getMessage());
        }
        JsonNode json;
        try {
            json = text.isBlank() ? JSON.nullNode() : JSON.readTree(text);
        } catch (IOException e) {
            throw new CliException("the daemon sent something that is not JSON (HTTP " + status + ")");
        }
        if (status == 421) { // the port is another home's daemon's: this home's daemon.json is stale
            throw new NotRunning("no daemon runs for ZENITH_HOME=" + home.dir() + " (" + base
                    + " is the zenith of ZENITH_HOME=" + json.path("home").asText("?") + "; start this one with: ./zenith start)");
        }
        if (status / 100 != 2) {
            throw new CliException(ErrorTexts.forPeople(json.path("error").asText("HTTP " + status), this));
        }
        return new Answer(status, json, location);
    }

    /**
     * The daemon's /status, or empty when no daemon runs for this home. A daemon that runs but does not
     * answer is an error, not "not running".
     */
    Optional<JsonNode> statusIfRunning() {
        try {
            return Optional.of(get("/status"));
        } catch (NotRunning e) {
            return Optional.empty();
        }
    }

    /** True when the daemon answers /status. */
    boolean isUp() {
        try {
            get("/status");
            return true;
        } catch (CliException e) {
            return false;
        }
    }

    /** No daemon listens for this home (no daemon.json, or nothing on its port). */
    static final class NotRunning extends CliException {
        NotRunning(String message) {
            super(message);
        }
    }

    private CliException notRunning() {
        return new NotRunning("no daemon runs for ZENITH_HOME=" + home.dir() + " (start it with: ./zenith start)");
    }
}
