package dev.zenith.server.api;

import dev.zenith.server.pageservice.RelationSizes;
import dev.zenith.server.history.StoredTimeline;
import dev.zenith.server.storages.StorageRegistry;
import dev.zenith.storage.Store;
import dev.zenith.storage.timeline.TimelineId;
import dev.zenith.wal.Lsn;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;

import java.util.List;

/**
 * What a page-service client needs to know what to ask for, as JSON: a storage's timelines (ids,
 * parents, branch points, where their WAL ends, their retention horizon, the pgs on each) and a pg's
 * relation forks at an LSN. Blocking (reads the store): call from a worker thread.
 */
final class PageCatalog {
    private PageCatalog() {
    }

    /**
     * The storage's entries of {@code GET /timelines} ({@code all}), each with where its WAL ends, its
     * retention horizon and the pgs on it ({@code pgs}: every pg as the pg list shows it).
     */
    static JsonArray timelines(StorageRegistry.Storage storage, List<StoredTimeline> all, JsonArray pgs) {
        Store store = storage.store();
        JsonArray out = new JsonArray();
        for (StoredTimeline st : all) {
            if (!storage.name().equals(st.storageName())) {
                continue;
            }
            TimelineId id = st.timeline().id();
            JsonArray names = new JsonArray();
            for (Object p : pgs) {
                JsonObject pg = (JsonObject) p;
                if (storage.name().equals(pg.getString("storage_name")) && id.toString().equals(pg.getString("timeline_id"))) {
                    names.add(pg.getString("name"));
                }
            }
            out.add(HistoryJson.timeline(st).put("end_lsn", store.wal().lastRecordEnd(id).map(Lsn::toString).orElse(null))
                    .put("retention_horizon", store.images().retentionHorizon(id).map(Lsn::toString).orElse(null))
                    .put("index_lsn", store.index().watermark(id).map(Lsn::toString).orElse(null))
                    .put("pgs", names));
        }
        return out;
    }

    /** {@code lsnText} null: the end of the pg's WAL; {@code fsm}: free-space map sizes outside images' windows. */
    static JsonObject relations(StorageRegistry.Storage storage, String pgName, TimelineId timeline, String lsnText,
                                RelationSizes.FreeSpaceMaps fsm) {
        Store store = storage.store();
        Lsn end = store.wal().lastRecordEnd(timeline).orElseThrow(() -> ApiException.conflict("pg '" + pgName + "' has no WAL yet"));
        Lsn lsn = end;
        if (lsnText != null) {
            try {
                lsn = Lsn.parse(lsnText);
            } catch (IllegalArgumentException e) {
                throw ApiException.badRequest(e.getMessage());
            }
            Lsn horizon = store.images().retentionHorizon(timeline).orElse(end);
            if (lsn.isBefore(horizon)) {
                throw ApiException.badRequest("LSN " + lsn + " is before the retention horizon " + horizon + " of pg '" + pgName + "'");
            }
            // Up to where the stored WAL ends (the pg's last_lsn) is reached; past the last record, it is its state.
            Lsn stored = Lsn.max(end, store.wal().end(timeline).orElse(end));
            if (lsn.isAfter(stored)) {
                throw ApiException.badRequest("LSN " + lsn + " is beyond the end of WAL " + stored + " of pg '" + pgName
                        + "' in the store (acknowledged WAL reaches it within wal_receiver.index_interval_ms)");
            }
            lsn = Lsn.min(lsn, end);
        }
        Lsn at = lsn;
        RelationSizes.Listing listing = RelationSizes.at(store, timeline, lsn, fsm).orElseThrow(() ->
                ApiException.conflict("pg '" + pgName + "' has no image at or below " + at));
        JsonArray rels = new JsonArray();
        for (RelationSizes.Entry e : listing.relations()) {
            JsonObject r = new JsonObject().put("spc", Integer.toUnsignedLong(e.rel().node().spcOid()))
                    .put("db", Integer.toUnsignedLong(e.rel().node().dbOid()))
                    .put("rel", Integer.toUnsignedLong(e.rel().node().relNode()))
                    .put("fork", e.rel().fork().id()).put("nblocks", e.blocks());
            rels.add(r);
        }
        return new JsonObject().put("pg", pgName).put("storage_name", storage.name()).put("tenant_id", storage.tenantId())
                .put("timeline_id", timeline.toString()).put("lsn", listing.lsn().toString())
                .put("image_lsn", listing.imageLsn().toString()).put("exact_until", listing.windowEnd().toString())
                .put("exact", listing.exact()).put("free_space_maps_listed", listing.fsmListed()).put("relations", rels);
    }
}
