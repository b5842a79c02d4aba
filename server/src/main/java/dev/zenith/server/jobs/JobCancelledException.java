package dev.zenith.server.jobs;

/**
 * Thrown at a safe point of a job that was asked to stop ({@code zenith job cancel}): the job ends "cancelled", and a
 * client waiting for its answer gets a conflict (409) saying so.
 */
public final class JobCancelledException extends RuntimeException {
    public JobCancelledException(String message) {
        super(message);
    }
}
