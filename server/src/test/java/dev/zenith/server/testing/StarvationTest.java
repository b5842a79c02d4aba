package dev.zenith.server.testing;

import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

class StarvationTest {
    private static final String PLAIN_JAVA = """
            event loop blocked: vert.x-eventloop-thread-0 for 4750 ms (limit 2000 ms; %s; load %s on 2 cores)
            \tat java.base@17.0.15/java.util.concurrent.ConcurrentHashMap.isEmpty(ConcurrentHashMap.java:920)
            \tat app//dev.zenith.server.storages.StorageRegistry.anyHeldElsewhere(StorageRegistry.java:144)""";

    @Test
    void aRunnableLoopInPlainJavaOnAnOverloadedMachineProvesNothing() {
        assertTrue(Starvation.explains(PLAIN_JAVA.formatted("RUNNABLE", "29.1")));
    }

    @Test
    void aLoopSeenIdleInItsSelectorOnAnOverloadedMachineProvesNothing() {
        String idle = """
                event loop blocked: vert.x-eventloop-thread-1 for 3100 ms (limit 1000 ms; RUNNABLE; load %s on 2 cores)
                \tat java.base@17.0.15/sun.nio.ch.EPoll.wait(Native Method)
                \tat java.base@17.0.15/sun.nio.ch.EPollSelectorImpl.doSelect(EPollSelectorImpl.java:118)""";
        assertTrue(Starvation.explains(idle.formatted("44.0")));
        assertFalse(Starvation.explains(idle.formatted("1.5")));
    }

    @Test
    void aLoopSeenInASystemCallThatNeverWaitsOnAnOverloadedMachineProvesNothing() {
        String making = """
                event loop blocked: vert.x-eventloop-thread-0 for 2100 ms (limit 2000 ms; RUNNABLE; load %s on 2 cores)
                \tat java.base@17.0.15/sun.nio.ch.%s(Native Method)
                \tat java.base@17.0.15/sun.nio.ch.ServerSocketChannelImpl.<init>(ServerSocketChannelImpl.java:112)
                \tat app//dev.zenith.server.api.RestApi.listen(RestApi.java:141)""";
        assertTrue(Starvation.explains(making.formatted("22.4", "Net.socket0")));
        assertTrue(Starvation.explains(making.formatted("22.4", "EventFD.set0")));
        assertFalse(Starvation.explains(making.formatted("1.5", "Net.socket0")), "a machine that is not overloaded");
        assertFalse(Starvation.explains(making.formatted("22.4", "Net.connect0")), "a connect may wait");
        assertFalse(Starvation.explains(making.formatted("22.4", "FileDispatcherImpl.write0")), "a file write may wait");
    }

    @Test
    void aNettyChannelsSocketWriteOnAnOverloadedMachineProvesNothing() {
        String writing = """
                event loop blocked: vert.x-eventloop-thread-1 for 2300 ms (limit 2000 ms; RUNNABLE; load %s on 2 cores)
                \tat java.base@17.0.15/sun.nio.ch.FileDispatcherImpl.write0(Native Method)
                \tat java.base@17.0.15/sun.nio.ch.SocketDispatcher.write(SocketDispatcher.java:62)
                \tat java.base@17.0.15/sun.nio.ch.IOUtil.writeFromNativeBuffer(IOUtil.java:132)
                \tat java.base@17.0.15/sun.nio.ch.SocketChannelImpl.write(SocketChannelImpl.java:%s)
                \tat app//io.netty.channel.socket.nio.NioSocketChannel.doWrite(NioSocketChannel.java:415)
                \tat app//dev.zenith.server.ingest.WalReceiver.sendStatus(WalReceiver.java:1)""";
        assertTrue(Starvation.explains(writing.formatted("35.4", "499")));
        assertFalse(Starvation.explains(writing.formatted("1.5", "499")), "a machine that is not overloaded");
        String fileWrite = """
                event loop blocked: vert.x-eventloop-thread-1 for 2300 ms (limit 2000 ms; RUNNABLE; load 35.4 on 2 cores)
                \tat java.base@17.0.15/sun.nio.ch.FileDispatcherImpl.write0(Native Method)
                \tat java.base@17.0.15/sun.nio.ch.FileChannelImpl.write(FileChannelImpl.java:285)
                \tat app//dev.zenith.server.ingest.WalReceiver.sendStatus(WalReceiver.java:1)""";
        assertFalse(Starvation.explains(fileWrite), "a file write may wait");
    }

    @Test
    void everyOtherReportCounts() {
        assertFalse(Starvation.explains(PLAIN_JAVA.formatted("RUNNABLE", "3.0")), "a machine that is not overloaded");
        assertFalse(Starvation.explains(PLAIN_JAVA.formatted("TIMED_WAITING", "29.1")), "a sleeping or waiting loop");
        assertFalse(Starvation.explains(PLAIN_JAVA.formatted("BLOCKED", "29.1")), "a loop waiting for a monitor");
        assertFalse(Starvation.explains(PLAIN_JAVA.formatted("RUNNABLE", "29.1")
                + "\n\tat app//org.lmdbjava.Txn.commit(Txn.java:97)"), "an LMDB commit");
        assertFalse(Starvation.explains(PLAIN_JAVA.formatted("RUNNABLE", "29.1")
                + "\n\tat java.base@17.0.15/sun.nio.ch.FileDispatcherImpl.force0(Native Method)"), "an fsync");
        assertFalse(Starvation.explains("event loop blocked: vert.x-eventloop-thread-0 for 4750 ms (limit 2000 ms)"
                + "\n\tat java.base@17.0.15/java.util.HashMap.get(HashMap.java:1)"), "a report without circumstances");
    }

    /** As PageServiceTest failed at load 17.2: Netty's first server channel loading a class from its jar. */
    private static final String LOADING_A_CLASS = """
            vert.x-eventloop-thread-0 blocked for 3331 ms (limit 1000 ms; %s; load %s on 2 cores)
            \tat java.base@17.0.15/java.io.RandomAccessFile.readBytes(Native Method)
            \tat java.base@17.0.15/java.util.zip.ZipFile$Source.readFullyAt(ZipFile.java:1516)
            \tat java.base@17.0.15/jdk.internal.loader.Resource.getBytes(Resource.java:126)
            \tat java.base@17.0.15/jdk.internal.loader.BuiltinClassLoader.defineClass(BuiltinClassLoader.java:859)
            \tat java.base@17.0.15/jdk.internal.loader.BuiltinClassLoader.loadClass(BuiltinClassLoader.java:639)
            \tat java.base@17.0.15/java.lang.ClassLoader.loadClass(ClassLoader.java:525)
            \tat java.base@17.0.15/java.lang.Class.getDeclaredFields0(Native Method)
            \tat java.base@17.0.15/java.util.concurrent.atomic.AtomicLongFieldUpdater.newUpdater(AtomicLongFieldUpdater.java:94)
            \tat app//io.netty.channel.ChannelOutboundBuffer.<clinit>(ChannelOutboundBuffer.java:93)
            \tat app//io.vertx.core.http.HttpServer.listen(HttpServer.java:183)
            \tat app//dev.zenith.server.api.RestApi.listen(RestApi.java:141)""";

    @Test
    void theJvmLoadingAClassProvesNothingWhateverTheLoadOrState() {
        assertTrue(Starvation.explains(LOADING_A_CLASS.formatted("RUNNABLE", "17.2")), "its jar read at load 17");
        assertTrue(Starvation.explains(LOADING_A_CLASS.formatted("RUNNABLE", "0.5")), "on a quiet machine");
        String parsingItsUrl = """
                vert.x-eventloop-thread-1 blocked for 2100 ms (limit 1000 ms; RUNNABLE; load 3.1 on 2 cores)
                \tat java.base@17.0.15/java.net.URLStreamHandler.parseURL(URLStreamHandler.java:205)
                \tat java.base@17.0.15/java.net.URL.<init>(URL.java:674)
                \tat java.base@17.0.15/jdk.internal.loader.URLClassPath$JarLoader.getResource(URLClassPath.java:813)
                \tat java.base@17.0.15/jdk.internal.loader.BuiltinClassLoader.loadClass(BuiltinClassLoader.java:639)
                \tat java.base@17.0.15/java.lang.ClassLoader.loadClass(ClassLoader.java:525)
                \tat app//dev.zenith.server.api.RestApi.listen(RestApi.java:141)""";
        assertTrue(Starvation.explains(parsingItsUrl));
        String waitingForAnotherLoader = """
                vert.x-eventloop-thread-1 blocked for 2100 ms (limit 1000 ms; BLOCKED; load 3.1 on 2 cores)
                \tat java.base@17.0.15/jdk.internal.loader.BuiltinClassLoader.loadClassOrNull(BuiltinClassLoader.java:667)
                \tat java.base@17.0.15/java.lang.ClassLoader.loadClass(ClassLoader.java:525)
                \tat app//dev.zenith.server.api.RestApi.listen(RestApi.java:141)""";
        assertTrue(Starvation.explains(waitingForAnotherLoader));
    }

    @Test
    void aClassLoadedInsideABlockingCallOfOursStillCounts() {
        assertFalse(Starvation.explains(LOADING_A_CLASS.formatted("RUNNABLE", "17.2")
                + "\n\tat app//org.lmdbjava.Dbi.get(Dbi.java:250)"), "an LMDB read on the loop, whatever it was loading");
        assertFalse(Starvation.explains(LOADING_A_CLASS.formatted("RUNNABLE", "17.2")
                .replace("\tat java.base@17.0.15/java.io.RandomAccessFile.readBytes(Native Method)\n", "")
                .replace("\tat app//dev.zenith.server.api.RestApi", "\tat java.base@17.0.15/java.lang.Thread.sleep(Native Method)\n"
                        + "\tat app//dev.zenith.server.api.RestApi")), "a sleep");
        assertFalse(Starvation.explains("""
                vert.x-eventloop-thread-1 blocked for 2100 ms (limit 1000 ms; TIMED_WAITING; load 30.0 on 2 cores)
                \tat java.base@17.0.15/java.lang.Thread.sleep(Native Method)
                \tat app//dev.zenith.server.SlowLoader.findClass(SlowLoader.java:1)
                \tat java.base@17.0.15/java.lang.ClassLoader.loadClass(ClassLoader.java:525)
                \tat app//dev.zenith.server.api.RestApi.listen(RestApi.java:141)"""), "a class loader of ours that sleeps");
    }
}
