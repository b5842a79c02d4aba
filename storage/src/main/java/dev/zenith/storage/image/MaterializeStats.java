package dev.zenith.storage.image;

import java.time.Duration;

/** What a materialize wrote. */
public record MaterializeStats(int relationForks, long pages, int files, long bytesWritten, Duration duration) {
}
