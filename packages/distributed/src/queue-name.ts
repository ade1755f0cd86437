export const DEFAULT_QUEUE_NAME = "concord-runs";
