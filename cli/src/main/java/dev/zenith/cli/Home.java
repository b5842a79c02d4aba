package dev.zenith.cli;

import com.fasterxml.jackson.databind.JsonNode;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * Where a daemon keeps its state: {@code ZENITH_HOME}, else the config file's {@code home}, else
 * {@code .zenith} in the working directory. The CLI passes the resolved path to the daemon it starts,
 * so both always agree.
 */
record Home(Path dir) {
    static Home resolve() {
        String env = System.getenv("ZENITH_HOME");
        if (env == null || env.isBlank()) {
            env = System.getProperty("zenith.home"); // lets tests in one JVM point at their own daemon
        }
        if (env != null && !env.isBlank()) {
            return new Home(Path.of(env).toAbsolutePath().normalize());
        }
        Path conf = configFile();
        if (Files.exists(conf)) {
            try {
                JsonNode n = DaemonClient.JSON.readTree(conf.toFile());
                if (n.hasNonNull("home")) {
                    return new Home(Path.of(n.get("home").asText()).toAbsolutePath().normalize());
                }
            } catch (IOException e) {
                throw new CliException("cannot read " + conf + ": " + e.getMessage());
            }
        }
        return new Home(Path.of(".zenith").toAbsolutePath().normalize());
    }

    static Path configFile() {
        String env = System.getenv("ZENITH_CONF");
        if (env != null && !env.isBlank()) {
            return Path.of(env);
        }
        String prop = System.getProperty("zenith.conf");
        return prop != null ? Path.of(prop) : Path.of("conf", "zenith.json");
    }

    Path daemonFile() {
        return dir.resolve("daemon.json");
    }

    Path logFile() {
        return dir.resolve("zenith.log");
    }

    /** The daemon's stdout and stderr (JVM crashes, messages before logging is set up). */
    Path outFile() {
        return dir.resolve("zenith.out");
    }
}
