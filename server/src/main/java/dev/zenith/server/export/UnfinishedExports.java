package dev.zenith.server.export;

import dev.zenith.pgexec.FileTrees;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.UUID;
import java.util.logging.Level;
import java.util.logging.Logger;
import java.util.regex.Pattern;
import java.util.stream.Stream;

/**
 * The temporary paths (and, for a dump, the temporary read-only pg) of exports under way, one note each in
 * ZENITH_HOME/exports: a daemon killed in the middle of an export cannot remove its half, so the next
 * start does. Only a path named as {@link ExportTarget} names its temporaries is ever removed. Blocking.
 */
final class UnfinishedExports {
    private static final Logger LOG = Logger.getLogger(UnfinishedExports.class.getName());
    private static final Pattern TEMPORARY = Pattern.compile("\\..+\\.zenith-export-[0-9a-f-]{36}");

    private final Path notes;

    UnfinishedExports(Path notes) {
        this.notes = notes;
    }

    /** Notes {@code temporary} and {@code pg} (or null) before either exists; forget the note when done. */
    Path remember(Path temporary, String pg) throws IOException {
        Files.createDirectories(notes);
        Path note = notes.resolve(UUID.randomUUID() + ".path");
        Files.writeString(note, temporary + (pg == null ? "" : "\n" + pg), StandardCharsets.UTF_8);
        return note;
    }

    void forget(Path note) throws IOException {
        Files.deleteIfExists(note);
    }

    /**
     * At start: removes what exports a killed daemon left half done, and their notes; answers their
     * temporary pgs, for the caller to destroy.
     */
    List<String> removeLeftovers() throws IOException {
        List<String> pgs = new java.util.ArrayList<>();
        if (!Files.isDirectory(notes)) {
            return pgs;
        }
        List<Path> found;
        try (Stream<Path> s = Files.list(notes)) {
            found = s.toList();
        }
        for (Path note : found) {
            try {
                List<String> lines = Files.readAllLines(note, StandardCharsets.UTF_8);
                if (lines.size() > 1) {
                    pgs.add(lines.get(1).trim());
                }
                Path temporary = Path.of(lines.get(0).trim());
                if (temporary.isAbsolute() && temporary.getFileName() != null
                        && TEMPORARY.matcher(temporary.getFileName().toString()).matches()) {
                    FileTrees.delete(temporary);
                    LOG.info("removed " + temporary + ", an export the daemon was stopped in the middle of");
                }
            } catch (IOException | RuntimeException e) {
                LOG.log(Level.WARNING, "could not remove the unfinished export noted in " + note, e);
            }
            Files.deleteIfExists(note);
        }
        return pgs;
    }
}
