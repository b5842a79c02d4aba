package dev.zenith.server.redo;

import java.io.IOException;

/** A redo run that could not produce its pages; nothing of it was handed out. */
public class RedoException extends IOException {
    public RedoException(String message) {
        super(message);
    }

    public RedoException(String message, Throwable cause) {
        super(message, cause);
    }
}
