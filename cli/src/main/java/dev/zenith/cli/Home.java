package dev.zenith.cli;

import com.fasterxml.jackson.databind.JsonNode;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * Where a daemon keeps its state: {@code ZENITH_HOME} (the {@code zenith.home} property first), else the config file's {@code home}, else
 * {@code .zenith} in the working directory. The CLI passes the resolved path to the daemon it starts,
 * so both always agree.
 */
record Home(Path dir) {
    static Home resolve() {
        // A test in one JVM points at its own daemon, whatever ZENITH_HOME the shell running the tests exported.
        String env = System.getProperty("zenith.home");
        if (env == null || env.isBlank()) {
            env = System.getenv("ZENITH_HOME");
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
        String prop = System.getProperty("zenith.conf"); // the launcher sets it from ZENITH_CONF
        if (prop != null && !prop.isBlank()) {
            return Path.of(prop);
        }
        String env = System.getenv("ZENITH_CONF");
        return env != null && !env.isBlank() ? Path.of(env) : Path.of("conf", "zenith.json");
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
