export { type IterationEvent, splitSeed, type TrainOptions, type TrainResult, type TrainState, train } from "./train.js";
