package dev.zenith.objectstore;

import java.lang.reflect.InvocationTargetException;
import java.lang.reflect.Method;
import java.lang.reflect.Proxy;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CopyOnWriteArrayList;

/**
 * A real store with a test's hook around each call: every call still goes to the real server (the
 * hook sees it, may act before it, e.g. stop the server, or change what the caller is told after
 * it, e.g. lose the answer of a PUT that did land). Calls are recorded for assertions.
 */
public final class Interposed {
    /** One call: its method name and arguments. */
    public record Call(String method, Object[] args) {
    }

    public interface Hook {
        /** Called before the real call; return a future to answer instead of the real call's, or null to pass its answer. */
        CompletableFuture<?> around(Call call, CompletableFuture<?> real);
    }

    private Interposed() {
    }

    public static ObjectStore wrap(ObjectStore real, List<Call> calls, Hook hook) {
        return (ObjectStore) Proxy.newProxyInstance(ObjectStore.class.getClassLoader(), new Class<?>[]{ObjectStore.class},
                (proxy, method, args) -> {
                    Call call = new Call(method.getName(), args == null ? new Object[0] : args);
                    calls.add(call);
                    Object result = invoke(real, method, args);
                    if (result instanceof CompletableFuture<?> f) {
                        CompletableFuture<?> instead = hook.around(call, f);
                        return instead == null ? f : instead;
                    }
                    return result;
                });
    }

    public static List<Call> newLog() {
        return new CopyOnWriteArrayList<>();
    }

    private static Object invoke(ObjectStore real, Method method, Object[] args) throws Throwable {
        try {
            return method.invoke(real, args);
        } catch (InvocationTargetException e) {
            throw e.getCause();
        }
    }
}
