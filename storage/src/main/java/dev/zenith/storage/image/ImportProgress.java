package dev.zenith.storage.image;

/**
 * How the import of a data directory goes, for a progress display: how many bytes of relation files it is
 * to read (once it knows which have changed), then each batch read. Called from the importing thread.
 */
public interface ImportProgress {
    ImportProgress NONE = new ImportProgress() {
        @Override
        public void toRead(long bytes) {
        }

        @Override
        public void read(long bytes) {
        }
    };

    void toRead(long bytes);

    void read(long bytes);
}
