package dev.zenith.server.offload;

import dev.zenith.objectstore.format.Manifest;
import dev.zenith.objectstore.log.ManifestView;
import dev.zenith.storage.timeline.TimelineId;
import dev.zenith.wal.Lsn;

import java.util.Comparator;
import java.util.List;
import java.util.Map;

/**
 * What an s3 storage's manifest entries are, by their labels: the pieces of a base (a consistent copy of
 * the LMDB store: timelines, images, page versions, documents, WAL as of one moment) and WAL ranges
 * after it. One place spells the labels and the manifest property naming the current base.
 */
final class RemoteNames {
    static final String KIND = "kind";
    static final String BASE = "base";
    static final String WAL = "wal";
    /**
     * Evicted page versions and file contents (the store's pointers name them by hash); listed until a base finds
     * neither its copy nor the store naming one (see {@code BaseUpload}).
     */
    static final String SEGMENT = "segment";
    static final String PART = "part";
    static final String TIMELINE = "timeline";
    static final String START = "start";
    static final String END = "end";
    /** Manifest property: the id of the base a restore starts from. */
    static final String CURRENT_BASE = "base.current";
    /** Manifest property per timeline: the end of the WAL the prefix holds (base and WAL pieces). */
    static String remoteLsnProperty(TimelineId id) {
        return "timeline." + id + ".remote_lsn";
    }

    private RemoteNames() {
    }

    static Map<String, String> basePart(String baseId, int part) {
        return Map.of(KIND, BASE, BASE, baseId, PART, Integer.toString(part));
    }

    static Map<String, String> segment() {
        return Map.of(KIND, SEGMENT);
    }

    static Map<String, String> wal(TimelineId id, Lsn start, Lsn end) {
        return Map.of(KIND, WAL, TIMELINE, id.toString(), START, start.toString(), END, end.toString());
    }

    static boolean isBase(Manifest.Entry e) {
        return BASE.equals(e.labels().get(KIND));
    }

    static boolean isSegment(Manifest.Entry e) {
        return SEGMENT.equals(e.labels().get(KIND));
    }

    static boolean isWal(Manifest.Entry e) {
        return WAL.equals(e.labels().get(KIND));
    }

    static Lsn start(Manifest.Entry e) {
        return Lsn.parse(e.labels().get(START));
    }

    static Lsn end(Manifest.Entry e) {
        return Lsn.parse(e.labels().get(END));
    }

    /** The current base's pieces in order; empty when the prefix holds no base. */
    static List<Manifest.Entry> currentBase(ManifestView view) {
        String id = view.properties().get(CURRENT_BASE);
        if (id == null) {
            return List.of();
        }
        return view.entries().stream().filter(e -> isBase(e) && id.equals(e.labels().get(BASE)))
                .sorted(Comparator.comparingInt(e -> Integer.parseInt(e.labels().get(PART)))).toList();
    }

    /** A timeline's WAL pieces by start. */
    static List<Manifest.Entry> walOf(ManifestView view, TimelineId id) {
        return view.entries().stream().filter(e -> isWal(e) && id.toString().equals(e.labels().get(TIMELINE)))
                .sorted(Comparator.comparing(RemoteNames::start)).toList();
    }
}
