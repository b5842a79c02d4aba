package dev.zenith.server.api;

import dev.zenith.server.export.SnapshotExporter;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;

/** The JSON of {@code snapshot export}'s answer. */
final class ExportJson {
    private ExportJson() {
    }

    static JsonObject of(SnapshotExporter.Exported e) {
        JsonObject json = new JsonObject().put("snapshot", e.snapshot().fullName()).put("lsn", e.snapshot().lsn().toString())
                .put("format", e.format().label()).put("to", e.to().toString());
        if (e.databases() != null) {
            JsonArray databases = new JsonArray();
            e.databases().forEach(d -> databases.add(new JsonObject().put("database", d.database()).put("file", d.file())
                    .put("bytes", d.bytes())));
            json.put("databases", databases);
        }
        return e.bytes() == null ? json : json.put("bytes", e.bytes());
    }
}
