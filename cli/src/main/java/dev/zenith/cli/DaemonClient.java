package dev.zenith.cli;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;

import java.io.IOException;
import java.net.ConnectException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Optional;

/** Talks to the daemon of one ZENITH_HOME over REST. */
final class DaemonClient {
    static final ObjectMapper JSON = new ObjectMapper();

    private final Home home;
    private final HttpClient http = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(5)).build();

    DaemonClient(Home home) {
        this.home = home;
    }

    /** The daemon's base URL from daemon.json, if it wrote one. */
    Optional<String> baseUrl() {
        Path f = home.daemonFile();
        if (!Files.exists(f)) {
            return Optional.empty();
        }
        try {
            JsonNode d = JSON.readTree(f.toFile());
            return Optional.of("http://" + d.path("http_host").asText("127.0.0.1") + ":" + d.path("http_port").asInt());
        } catch (IOException e) {
            return Optional.empty();
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

    /** Sends a request; a non-2xx answer becomes a CliException carrying the daemon's error text. */
    JsonNode send(String method, String path, ObjectNode body) {
        String base = baseUrl().orElseThrow(() -> notRunning());
        HttpRequest.Builder rb = HttpRequest.newBuilder(URI.create(base + path)).timeout(Duration.ofMinutes(15));
        rb.method(method, body == null ? HttpRequest.BodyPublishers.noBody()
                : HttpRequest.BodyPublishers.ofString(body.toString()));
        if (body != null) {
            rb.header("content-type", "application/json");
        }
        HttpResponse<String> resp;
        try {
            resp = http.send(rb.build(), HttpResponse.BodyHandlers.ofString());
        } catch (ConnectException e) {
            throw notRunning();
        } catch (IOException e) {
            throw new CliException("cannot reach the zenith daemon at " + base + ": " + e.getMessage());
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new CliException("interrupted");
        }
        JsonNode json;
        try {
            json = resp.body().isBlank() ? JSON.nullNode() : JSON.readTree(resp.body());
        } catch (IOException e) {
            throw new CliException("the daemon sent something that is not JSON (HTTP " + resp.statusCode() + ")");
        }
        if (resp.statusCode() / 100 != 2) {
            throw new CliException(json.path("error").asText("HTTP " + resp.statusCode()));
        }
        return json;
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

    private CliException notRunning() {
        return new CliException("zenith is not running for ZENITH_HOME=" + home.dir() + " (start it with: ./zenith start)");
    }
}
