package dev.zenith.storage.image;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.zenith.storage.meta.StoredJson;
import dev.zenith.storage.timeline.TimelineId;
import dev.zenith.wal.ForkNumber;
import dev.zenith.wal.Lsn;
import dev.zenith.wal.RelTag;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;

/**
 * Image manifests as stored: JSON, relations as compact [spc, db, rel, fork, blocks] arrays; field names in
 * snake_case, read in the camelCase of older stores too ({@link StoredJson}).
 */
public final class ManifestCodec {
    private static final ObjectMapper JSON = new ObjectMapper();

    private ManifestCodec() {
    }

    public static byte[] encode(ImageManifest m) {
        ObjectNode n = JSON.createObjectNode();
        n.put("timeline", m.timeline().toString());
        n.put("lsn", m.lsn().toString());
        n.put("redo_lsn", m.redoLsn().toString());
        n.put("created_at", m.createdAt().toString());
        n.put("data_checksum_version", m.dataChecksumVersion());
        n.put("pg_control", m.pgControlSha256());
        ArrayNode rels = n.putArray("relations");
        for (RelationSize r : m.relations()) {
            rels.addArray().add(Integer.toUnsignedLong(r.rel().node().spcOid()))
                    .add(Integer.toUnsignedLong(r.rel().node().dbOid()))
                    .add(Integer.toUnsignedLong(r.rel().node().relNode())).add(r.rel().fork().id()).add(r.blocks());
        }
        ArrayNode files = n.putArray("files");
        for (FileEntry f : m.files()) {
            files.addObject().put("path", f.path()).put("sha256", f.sha256()).put("size", f.size());
        }
        ArrayNode dirs = n.putArray("directories");
        m.directories().forEach(dirs::add);
        try {
            return JSON.writeValueAsBytes(n);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    public static ImageManifest decode(byte[] json) {
        try {
            JsonNode n = JSON.readTree(json);
            List<RelationSize> rels = new ArrayList<>();
            for (JsonNode r : n.get("relations")) {
                rels.add(new RelationSize(RelTag.of((int) r.get(0).asLong(), (int) r.get(1).asLong(),
                        (int) r.get(2).asLong(), ForkNumber.of(r.get(3).asInt())), r.get(4).asLong()));
            }
            List<FileEntry> files = new ArrayList<>();
            for (JsonNode f : n.get("files")) {
                files.add(new FileEntry(f.get("path").asText(), f.get("sha256").asText(), f.get("size").asLong()));
            }
            List<String> dirs = new ArrayList<>();
            n.get("directories").forEach(d -> dirs.add(d.asText()));
            return new ImageManifest(TimelineId.parse(n.get("timeline").asText()), Lsn.parse(n.get("lsn").asText()),
                    Lsn.parse(StoredJson.field(n, "redo_lsn", "redoLsn").asText()),
                    Instant.parse(StoredJson.field(n, "created_at", "createdAt").asText()),
                    StoredJson.field(n, "data_checksum_version", "dataChecksumVersion").asInt(),
                    StoredJson.field(n, "pg_control", "pgControl").asText(), rels, files, dirs);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }
}
