package dev.zenith.server.ready;

import dev.zenith.server.anchor.AnchoredStart;
import dev.zenith.storage.image.RelationSize;
import dev.zenith.storage.image.VersionedDirectory;

import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;

/**
 * What identifies the directory an anchored start writes: the anchor, its timeline, the image of the small files,
 * every file's content, directory, fork and size, and the LSN the blocks are read at (the lineage below it is the
 * anchor timeline's for every start that chose it). Equal digests: byte-equal directories.
 */
final class PlanDigest {
    private PlanDigest() {
    }

    static String of(AnchoredStart.Plan plan) {
        try {
            MessageDigest md = MessageDigest.getInstance("SHA-256");
            VersionedDirectory d = plan.directory();
            add(md, "anchor " + plan.timeline() + " " + plan.checkpoint() + " " + plan.redo() + " at " + d.versionsAt());
            add(md, "image " + d.smallFiles().timeline() + " " + d.smallFiles().lsn());
            md.update(d.pgControl());
            for (Map.Entry<String, byte[]> f : new TreeMap<>(d.files()).entrySet()) {
                add(md, "file " + f.getKey() + " " + f.getValue().length);
                md.update(f.getValue());
            }
            d.directories().stream().sorted().forEach(dir -> add(md, "dir " + dir));
            d.statusDirectories().stream().sorted().forEach(dir -> add(md, "status " + dir));
            forks(md, "fork", d.forks());
            forks(md, "fsm", d.freeSpaceMaps());
            return HexFormat.of().formatHex(md.digest());
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }

    private static void forks(MessageDigest md, String kind, List<RelationSize> forks) {
        forks.stream().map(f -> kind + " " + f.rel().path() + " " + f.blocks()).sorted().forEach(s -> add(md, s));
    }

    private static void add(MessageDigest md, String s) {
        md.update(s.getBytes(StandardCharsets.UTF_8));
        md.update((byte) '\n');
    }
}
