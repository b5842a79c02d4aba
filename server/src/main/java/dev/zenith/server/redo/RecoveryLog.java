package dev.zenith.server.redo;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * What a run's PostgreSQL says of its own time in its log: the replay ("redo done at ... elapsed: S s") and the
 * end-of-recovery checkpoint ("checkpoint complete: ... total=S s"; log_checkpoints is on by default), so a run's
 * time in PostgreSQL splits into them and the rest (starting its processes and shared memory). Zero where a line
 * is missing.
 */
record RecoveryLog(Duration replay, Duration checkpoint) {
    private static final Pattern REPLAY = Pattern.compile("redo done at .* elapsed: ([0-9.]+) s");
    private static final Pattern CHECKPOINT = Pattern.compile("checkpoint complete: .* total=([0-9.]+) s");

    static RecoveryLog read(Path logFile) {
        String log;
        try {
            log = Files.readString(logFile, StandardCharsets.UTF_8);
        } catch (IOException e) {
            return new RecoveryLog(Duration.ZERO, Duration.ZERO);
        }
        return new RecoveryLog(seconds(REPLAY.matcher(log)), seconds(CHECKPOINT.matcher(log)));
    }

    private static Duration seconds(Matcher m) {
        return m.find() ? Duration.ofNanos(Math.round(Double.parseDouble(m.group(1)) * 1e9)) : Duration.ZERO;
    }
}
