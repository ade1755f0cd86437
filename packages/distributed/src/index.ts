export { checkRedis, parseRedisUrl, type RedisTarget, redactUrlText } from "./connection.js";
export { type QueueSchedulerOptions, queueScheduler } from "./coordinator.js";
export { RUN_JOB_VERSION, type RunJob, type RunJobPayload, runJobPayload, validateRunJob } from "./job.js";
export { DEFAULT_QUEUE_NAME } from "./queue-name.js";
export { type RunJobResult, type RunningWorker, startWorker, type WorkerOptions } from "./worker.js";
export { pack, unpack } from "./binary.js";
export { createQueuePool, type QueuePool, type QueuePoolOptions, type QueuePoolStats } from "./tasks/queue-pool.js";
export { queueTrainConfig } from "./tasks/train-config.js";
export { TASK_JOB_VERSION, TASK_QUEUE_NAME, type TaskChunkPayload, validateTaskChunk } from "./tasks/protocol.js";
