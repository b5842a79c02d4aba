package dev.zenith.storage.gc;

import dev.zenith.storage.anchor.AnchorStore;
import dev.zenith.storage.image.ImageManifest;
import dev.zenith.storage.image.ManifestCodec;
import dev.zenith.storage.lmdb.TableCursor;
import dev.zenith.storage.lmdb.Tables;
import dev.zenith.storage.lmdb.ReadTxn;
import org.lmdbjava.Txn;

import java.util.ArrayList;
import java.util.HashSet;
import java.util.HexFormat;
import java.util.List;
import java.util.Set;

/** Deletes file contents (blobs) that neither an image manifest nor an anchor refers to any more. */
final class BlobSweep {
    private final Tables tables;

    BlobSweep(Tables tables) {
        this.tables = tables;
    }

    /**
     * Deletes the file contents no image manifest refers to (images of every timeline, after this
     * collection's deletions). The caller makes sure no import is between writing a blob and its manifest.
     * Returns how many went.
     */
    long sweep() {
        Set<String> referenced = new HashSet<>();
        List<byte[]> unreferenced = new ArrayList<>();
        try (ReadTxn read = tables.read()) { // read first: the write lock is held only to delete
            Txn<byte[]> txn = read.txn();
            try (TableCursor c = tables.images().openCursor(txn)) { // checked: a damaged manifest stops the sweep
                for (boolean ok = c.first(); ok; ok = c.next()) {
                    ImageManifest m = ManifestCodec.decode(c.val());
                    referenced.add(m.pgControlSha256());
                    m.files().forEach(f -> referenced.add(f.sha256()));
                }
            }
            referenced.addAll(AnchorStore.referencedBlobs(tables, txn));
            try (TableCursor c = tables.blobs().openCursor(txn)) {
                for (boolean ok = c.first(); ok; ok = c.next()) {
                    if (!referenced.contains(HexFormat.of().formatHex(c.key()))) {
                        unreferenced.add(c.key());
                    }
                }
            }
        }
        if (!unreferenced.isEmpty()) {
            try (Txn<byte[]> txn = tables.write()) {
                // an anchor stored since the read above may share a blob: keep what anchors refer to now
                Set<String> anchored = AnchorStore.referencedBlobs(tables, txn);
                unreferenced.stream().filter(k -> !anchored.contains(HexFormat.of().formatHex(k)))
                        .forEach(k -> tables.blobs().delete(txn, k));
                txn.commit();
            }
        }
        return unreferenced.size();
    }
}
