package dev.zenith.protocol.wire;

import dev.zenith.protocol.wire.BackendMessage.*;

/** Server side: the bytes of {@link BackendMessage}s. */
public final class BackendEncoder {
    private BackendEncoder() {
    }

    public static byte[] encode(BackendMessage... messages) {
        ByteWriter w = new ByteWriter();
        for (BackendMessage m : messages) {
            encode(m, w);
        }
        return w.toByteArray();
    }

    public static void encode(BackendMessage m, ByteWriter w) {
        w.begin(m.type());
        if (m instanceof AuthenticationOk) {
            w.int32(0);
        } else if (m instanceof AuthenticationCleartextPassword) {
            w.int32(3);
        } else if (m instanceof AuthenticationMD5Password a) {
            w.int32(5).bytes(a.salt());
        } else if (m instanceof AuthenticationSASL a) {
            w.int32(10);
            a.mechanisms().forEach(w::cstring);
            w.int8(0);
        } else if (m instanceof AuthenticationSASLContinue a) {
            w.int32(11).bytes(a.data());
        } else if (m instanceof AuthenticationSASLFinal a) {
            w.int32(12).bytes(a.data());
        } else if (m instanceof ParameterStatus p) {
            w.cstring(p.name()).cstring(p.value());
        } else if (m instanceof BackendKeyData k) {
            w.int32(k.processId()).int32(k.secretKey());
        } else if (m instanceof ReadyForQuery z) {
            w.int8(z.status());
        } else if (m instanceof RowDescription t) {
            w.int16(t.fields().size());
            for (Field f : t.fields()) {
                w.cstring(f.name()).int32(f.tableOid()).int16(f.columnAttr()).int32(f.typeOid())
                        .int16(f.typeSize()).int32(f.typeModifier()).int16(f.format());
            }
        } else if (m instanceof DataRow d) {
            w.int16(d.values().size());
            for (byte[] v : d.values()) {
                if (v == null) {
                    w.int32(-1);
                } else {
                    w.int32(v.length).bytes(v);
                }
            }
        } else if (m instanceof CommandComplete c) {
            w.cstring(c.tag());
        } else if (m instanceof ErrorResponse e) {
            fields(e.fields(), w);
        } else if (m instanceof NoticeResponse n) {
            fields(n.fields(), w);
        } else if (m instanceof CopyResponse c) {
            w.int8(c.format()).int16(c.columnFormats().size());
            c.columnFormats().forEach(w::int16);
        } else if (m instanceof CopyData d) {
            w.bytes(d.data());
        }
        // EmptyQueryResponse, CopyDone: no body
        w.finish();
    }

    private static void fields(ErrorFields f, ByteWriter w) {
        f.fields().forEach((k, v) -> w.int8(k).cstring(v));
        w.int8(0);
    }
}
