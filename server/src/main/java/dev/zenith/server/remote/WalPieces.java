package dev.zenith.server.remote;

import dev.zenith.objectstore.format.Manifest;
import dev.zenith.wal.Lsn;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.NavigableMap;
import java.util.Optional;
import java.util.TreeMap;

/**
 * Where a push cuts a timeline's WAL into blobs. Pieces are {@link #PIECE} long and aligned to multiples of it, so
 * two pushes of one history cut the same bytes; and a piece the remote lists already for this timeline
 * (from an earlier push, whose last piece ended at its snapshot) is cut exactly as it was, so a later push sends only
 * the WAL after that snapshot. Few large pieces, not many small ones: each object costs requests whatever its size.
 */
final class WalPieces {
    /**
     * Half a WAL segment: 8 MiB. Large enough that a push makes few requests, small enough that the pieces held in
     * memory (each, and its frame, a humongous array) stay well within the daemon's heap bound.
     */
    static final long PIECE = 8L << 20;

    /** {@code [start, end)} of the timeline's LSN space. */
    record Piece(Lsn start, Lsn end) {
        int length() {
            return (int) end.minus(start);
        }
    }

    /** Start to end of the pieces the remote lists for one timeline. */
    private final NavigableMap<Lsn, Lsn> listed;
    /** Start to the entry of the longest listed piece from there. */
    private final Map<Lsn, Manifest.Entry> entries;

    private WalPieces(NavigableMap<Lsn, Lsn> listed, Map<Lsn, Manifest.Entry> entries) {
        this.listed = listed;
        this.entries = entries;
    }

    /** The pieces of {@code timeline} that the given manifests' entries list (kind "wal"). */
    static WalPieces listedFor(String timeline, List<Manifest.Entry> entries) {
        NavigableMap<Lsn, Lsn> listed = new TreeMap<>();
        Map<Lsn, Manifest.Entry> byStart = new HashMap<>();
        for (Manifest.Entry e : entries) {
            Map<String, String> l = e.labels();
            if ("wal".equals(l.get("kind")) && timeline.equals(l.get("timeline")) && l.containsKey("start") && l.containsKey("end")) {
                Lsn start = Lsn.parse(l.get("start"));
                Lsn end = Lsn.parse(l.get("end"));
                Lsn known = listed.get(start);
                if (end.isAfter(start) && (known == null || end.isAfter(known))) { // the longest from one start
                    listed.put(start, end);
                    byStart.put(start, e);
                }
            }
        }
        return new WalPieces(listed, byStart);
    }

    /** The remote's entry of exactly this piece, when it lists one: the same timeline and bytes, not read again. */
    Optional<Manifest.Entry> listed(Piece p) {
        return p.end().equals(listed.get(p.start())) ? Optional.of(entries.get(p.start())) : Optional.empty();
    }

    /** {@code [start, end)} cut into pieces: a listed piece wherever one starts and fits, else up to the next boundary. */
    List<Piece> cut(Lsn start, Lsn end) {
        List<Piece> out = new ArrayList<>();
        for (Lsn at = start; at.isBefore(end); ) {
            Lsn known = listed.get(at);
            Lsn next;
            if (known != null && !known.isAfter(end)) {
                next = known;
            } else {
                next = Lsn.min(end, Lsn.of((at.value() / PIECE + 1) * PIECE));
                Lsn listedStart = listed.higherKey(at); // stop where a listed piece begins, to reuse it
                if (listedStart != null && listedStart.isBefore(next) && !listed.get(listedStart).isAfter(end)) {
                    next = listedStart;
                }
            }
            out.add(new Piece(at, next));
            at = next;
        }
        return out;
    }
}
