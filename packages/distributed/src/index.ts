export { checkRedis, parseRedisUrl, type RedisTarget } from "./connection.js";
export { type QueueSchedulerOptions, queueScheduler } from "./coordinator.js";
export { RUN_JOB_VERSION, type RunJob, type RunJobPayload, runJobPayload, validateRunJob } from "./job.js";
export { DEFAULT_QUEUE_NAME } from "./queue-name.js";
export { type RunJobResult, type RunningWorker, startWorker, type WorkerOptions } from "./worker.js";
