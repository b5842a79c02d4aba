package dev.zenith.cli;

import dev.zenith.pgexec.PgInstallation;
import picocli.CommandLine.IVersionProvider;

import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.util.Properties;
import java.util.concurrent.TimeUnit;

/** {@code zenith --version}: zenith's, PostgreSQL's and Java's versions. */
final class VersionInfo implements IVersionProvider {
    @Override
    public String[] getVersion() {
        return new String[] {"zenith " + zenith(), postgres(),
                "Java " + System.getProperty("java.version") + " (" + System.getProperty("java.vendor") + ", "
                        + System.getProperty("java.home") + ")"};
    }

    static String zenith() {
        Properties p = new Properties();
        try (InputStream in = VersionInfo.class.getResourceAsStream("version.properties")) {
            if (in != null) {
                p.load(in);
            }
        } catch (IOException e) {
            // unknown below
        }
        return p.getProperty("version", "(unknown version)");
    }

    private static String postgres() {
        try {
            PgInstallation pg = PgInstallation.detect();
            Process p = new ProcessBuilder(pg.bin("postgres").toString(), "--version").redirectErrorStream(true).start();
            String v = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8).trim();
            p.waitFor(10, TimeUnit.SECONDS);
            return v.replaceFirst("^postgres \\(PostgreSQL\\) ", "PostgreSQL ") + " (" + pg.binDir() + ")";
        } catch (IOException | RuntimeException e) {
            return "PostgreSQL: not found (" + e.getMessage() + ")";
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return "PostgreSQL: ?";
        }
    }
}
