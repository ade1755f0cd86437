/**
 * The window geometry that im2col and the max-pool scans take, in this order (gemm.wat's functions
 * and the native addon's alike): an NHWC input n × height × width × c, an output grid oh × ow of
 * kh × kw windows, the input shifted by (top, left) of padding.
 */
export type WindowGeometry = [n: number, height: number, width: number, c: number, oh: number, ow: number, kh: number, kw: number, top: number, left: number];
