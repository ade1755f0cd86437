// Concord's native kernels for the tfjs wasm backend (Node only). Every function works in place on
// the wasm backend's heap: JavaScript passes the WebAssembly.Memory's ArrayBuffer and byte offsets,
// so no tensor is copied. GEMM is OpenBLAS's cblas_sgemm, always called single-threaded; the addon
// shares a call's work out to its own helper threads in fixed chunks whose boundaries depend only on
// the problem's shape, never on the thread count, so results are bit-identical with 1 or 2 threads
// and whichever thread computed a chunk (parallel == sequential). After the shared parts (thread pool,
// argument checks, SIMD helpers), one section per kernel folder of @concord/backend
// (packages/backend/src/kernels/<folder>/), holding the functions that folder's contract.ts declares.
#include <node_api.h>
#include <cblas.h>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <condition_variable>
#include <cstdint>
#include <cstring>
#include <functional>
#include <initializer_list>
#include <mutex>
#include <new>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

extern "C" void openblas_set_num_threads(int);
extern "C" char* openblas_get_config(void);

namespace {

// ---- a tiny fork-join pool: the caller and (threads − 1) helpers claim chunk indices -------------

class ChunkPool {
 public:
  void set_threads(int threads) {
    std::lock_guard<std::mutex> lock(mutex_);
    wanted_ = std::max(1, std::min(threads, 64));
    // A helper starts with the current generation, so it can join runs from the next one.
    while (static_cast<int>(helpers_.size()) + 1 < wanted_) {
      const int index = static_cast<int>(helpers_.size());
      const uint64_t seen = generation_;
      helpers_.emplace_back([this, index, seen] { helper_loop(index, seen); });
      helpers_.back().detach();
    }
  }
  int threads() {
    std::lock_guard<std::mutex> lock(mutex_);
    return wanted_;
  }
  // JavaScript threads (Node environments: the main thread, worker threads) with the addon loaded.
  void environment_loaded() { loaded_environments_.fetch_add(1); }
  void environment_unloaded() { loaded_environments_.fetch_sub(1); }
  int loaded_environments() { return loaded_environments_.load(); }

  /**
   * Runs body(i) for i in [0, count). The caller works through the chunks itself and helpers that
   * wake in time join in; it waits only for helpers that joined (a helper descheduled by a busy
   * machine never holds the call up). Shares only when no other call is running in the process.
   */
  void run(int count, const std::function<void(int)>& body, bool worth_sharing) {
    // Another thread (a worker of Concord's task pool) is inside a call: it already uses the other
    // core, so this call runs on its own thread only (no oversubscription). Likewise whenever another
    // JavaScript thread has the addon loaded (a task pool's worker): between its calls that worker
    // runs tfjs's JavaScript and wasm kernels on its core, and a helper woken there only takes that
    // core from it (measured on a loaded machine: 7% more process CPU per parallel Omniglot iteration).
    const int inside = in_flight_.fetch_add(1) + 1;
    std::unique_lock<std::mutex> busy(busy_, std::defer_lock);
    if (worth_sharing && count > 1 && inside == 1 && loaded_environments_.load() == 1 && busy.try_lock()) {
      int helpers;
      {
        std::lock_guard<std::mutex> lock(mutex_);
        helpers = wanted_ - 1;
        if (helpers > 0) {
          next_.store(0);
          body_ = &body;
          count_ = count;
          open_ = true;
          joined_ = 0;
          ++generation_;
        }
      }
      if (helpers > 0) {
        wake_.notify_all();
        work(body, count);
        std::unique_lock<std::mutex> lock(mutex_);
        open_ = false;
        done_.wait(lock, [this] { return joined_ == 0; });
        body_ = nullptr;
        in_flight_.fetch_sub(1);
        return;
      }
    }
    for (int i = 0; i < count; i++) body(i);
    in_flight_.fetch_sub(1);
  }

 private:
  void work(const std::function<void(int)>& body, int count) {
    for (int i = next_.fetch_add(1); i < count; i = next_.fetch_add(1)) body(i);
  }
  void helper_loop(int index, uint64_t seen) {
    for (;;) {
      const std::function<void(int)>* body;
      int count;
      {
        std::unique_lock<std::mutex> lock(mutex_);
        wake_.wait(lock, [&] { return generation_ != seen; });
        seen = generation_;
        if (!open_ || index + 1 >= wanted_) continue;  // the run is over, or this helper is not wanted
        ++joined_;
        body = body_;
        count = count_;
      }
      work(*body, count);
      {
        std::lock_guard<std::mutex> lock(mutex_);
        --joined_;
      }
      done_.notify_all();
    }
  }

  std::mutex mutex_;
  std::mutex busy_;
  std::condition_variable wake_;
  std::condition_variable done_;
  std::vector<std::thread> helpers_;
  const std::function<void(int)>* body_ = nullptr;
  int count_ = 0;
  uint64_t generation_ = 0;
  bool open_ = false;
  int joined_ = 0;
  int wanted_ = 1;
  std::atomic<int> next_{0};
  std::atomic<int> in_flight_{0};
  std::atomic<int> loaded_environments_{0};
};

ChunkPool& pool() {
  static ChunkPool* instance = new ChunkPool();  // never destroyed: helpers are detached
  return *instance;
}

// ---- argument helpers ------------------------------------------------------------------------------

bool throw_error(napi_env env, const char* message) {
  napi_throw_error(env, "ERR_CONCORD_NATIVE", message);
  return false;
}

bool get_args(napi_env env, napi_callback_info info, size_t expected, napi_value* args) {
  size_t argc = expected;
  if (napi_get_cb_info(env, info, &argc, args, nullptr, nullptr) != napi_ok) return throw_error(env, "could not read the arguments");
  if (argc != expected) return throw_error(env, "wrong number of arguments");
  return true;
}

bool get_buffer(napi_env env, napi_value value, uint8_t** data, size_t* length) {
  bool is_buffer = false;
  napi_is_arraybuffer(env, value, &is_buffer);
  if (!is_buffer) return throw_error(env, "expected an ArrayBuffer (the wasm memory's buffer)");
  void* pointer = nullptr;
  if (napi_get_arraybuffer_info(env, value, &pointer, length) != napi_ok) return throw_error(env, "could not read the ArrayBuffer");
  *data = static_cast<uint8_t*>(pointer);
  return true;
}

// Sizes and offsets must be safe JavaScript integers (|v| ≤ 2⁵³ − 1): napi_get_value_int64 would
// truncate a fraction and saturate a larger number, turning a caller's mistake into another size.
constexpr double kMaxSafeInteger = 9007199254740991.0;

bool get_ints(napi_env env, const napi_value* args, size_t count, int64_t* out) {
  for (size_t i = 0; i < count; i++) {
    double value;
    if (napi_get_value_double(env, args[i], &value) != napi_ok || !(std::fabs(value) <= kMaxSafeInteger) || std::trunc(value) != value) {
      return throw_error(env, "expected safe integer arguments (sizes, offsets)");
    }
    out[i] = static_cast<int64_t>(value);
  }
  return true;
}

bool get_double(napi_env env, napi_value value, double* out) {
  if (napi_get_value_double(env, value, out) != napi_ok) return throw_error(env, "expected a number");
  return true;
}

// ---- checked size arithmetic ------------------------------------------------------------------------
// Every byte count and offset is computed with overflow checks: a product that wrapped around 2⁶⁴
// would pass the bounds check as a small number and let a kernel run far outside the buffer.

// *out = the product of the factors; false if one is negative or the product overflows int64.
bool checked_product(std::initializer_list<int64_t> factors, int64_t* out) {
  int64_t product = 1;
  for (const int64_t factor : factors) {
    if (factor < 0 || __builtin_mul_overflow(product, factor, &product)) return false;
  }
  *out = product;
  return true;
}

// The bytes [offset, offset + bytes) lie inside a buffer of `length` bytes, and offset is 4-byte aligned.
bool in_bounds(int64_t offset, int64_t bytes, size_t length) {
  int64_t end;
  return offset >= 0 && bytes >= 0 && offset % 4 == 0 && !__builtin_add_overflow(offset, bytes, &end) && static_cast<uint64_t>(end) <= length;
}

// A float32 array of the given shape at byte `offset` lies inside the buffer (sizes ≥ 0, no overflow).
bool floats_in_bounds(int64_t offset, std::initializer_list<int64_t> shape, size_t length) {
  int64_t elements, bytes;
  return checked_product(shape, &elements) && !__builtin_mul_overflow(elements, int64_t{4}, &bytes) && in_bounds(offset, bytes, length);
}

// Runs a function's body; a C++ exception (an allocation failure for the per-channel scratch of a
// huge tensor, a helper thread the system refuses) becomes a JavaScript error instead of escaping
// into Node, which would abort the process.
template <typename Body>
napi_value guarded(napi_env env, const char* name, Body body) {
  try {
    body();
  } catch (const std::bad_alloc&) {
    napi_throw_error(env, "ERR_CONCORD_NATIVE", (std::string(name) + ": out of memory for the kernel's scratch space").c_str());
  } catch (const std::exception& error) {
    napi_throw_error(env, "ERR_CONCORD_NATIVE", (std::string(name) + ": " + error.what()).c_str());
  }
  return nullptr;
}

// The window geometry im2col and maxPoolRoute both take, in this order: an NHWC input n × height ×
// width × c, an output grid oh × ow of kh × kw windows, the input shifted by (top, left) of padding.
struct WindowGeometry {
  int64_t n, height, width, c, oh, ow, kh, kw, top, left;
};

bool get_window_geometry(napi_env env, const napi_value* args, WindowGeometry* out) {
  int64_t v[10];
  if (!get_ints(env, args, 10, v)) return false;
  *out = {v[0], v[1], v[2], v[3], v[4], v[5], v[6], v[7], v[8], v[9]};
  return true;
}

// What every heap kernel reads first: its arguments, the first of which is the wasm memory's buffer.
struct HeapCall {
  napi_value args[16];
  uint8_t* heap = nullptr;
  size_t length = 0;
};

// As read_heap_call, for a function whose last arguments are optional: between `required` and
// `most` arguments; the missing ones read as undefined.
bool read_heap_call_upto(napi_env env, napi_callback_info info, size_t required, size_t most, HeapCall* call) {
  if (most > sizeof(call->args) / sizeof(call->args[0])) return throw_error(env, "internal: HeapCall holds too few arguments");
  size_t argc = most;
  if (napi_get_cb_info(env, info, &argc, call->args, nullptr, nullptr) != napi_ok) return throw_error(env, "could not read the arguments");
  if (argc < required || argc > most) return throw_error(env, "wrong number of arguments");
  return get_buffer(env, call->args[0], &call->heap, &call->length);
}

bool read_heap_call(napi_env env, napi_callback_info info, size_t expected, HeapCall* call) {
  // A kernel with more arguments than HeapCall holds must grow args, not overrun it.
  if (expected > sizeof(call->args) / sizeof(call->args[0])) return throw_error(env, "internal: HeapCall holds too few arguments");
  return get_args(env, info, expected, call->args) && get_buffer(env, call->args[0], &call->heap, &call->length);
}

// ---- SIMD helpers shared by the max-pool, batch-norm and elementwise kernels ---------------------
// On x86-64 Linux the max-pool scan, the batch-norm passes and the elementwise kernels are also
// compiled for AVX2, and the clone the CPU supports is picked when the addon loads (GCC/Clang
// target_clones, an ifunc): 30% less CPU for batch norm on an AVX2 machine. Same bits: every
// operation is per lane (per channel), rows keep their order, and AVX2 has no FMA (nor would
// -ffp-contract=off contract one).
#if defined(__x86_64__) && defined(__linux__) && defined(__has_attribute)
#if __has_attribute(target_clones)
#define AVX2_CLONE __attribute__((target_clones("avx2", "default")))
#endif
#endif
#ifndef AVX2_CLONE
#define AVX2_CLONE
#endif

typedef float f32x4 __attribute__((vector_size(16)));
typedef int32_t i32x4 __attribute__((vector_size(16)));

inline f32x4 load4(const float* p) {
  f32x4 v;
  std::memcpy(&v, p, sizeof v);
  return v;
}
inline void store4(float* p, f32x4 v) { std::memcpy(p, &v, sizeof v); }
// a where mask is all ones, b where it is zero.
inline f32x4 select4(i32x4 mask, f32x4 a, f32x4 b) {
  return reinterpret_cast<f32x4>((mask & reinterpret_cast<i32x4>(a)) | (~mask & reinterpret_cast<i32x4>(b)));
}

// ==== kernels/batch-mat-mul/ (sgemm) =============================================================
// Declared in packages/backend/src/kernels/batch-mat-mul/contract.ts and called from that folder's native.ts.

// Calls below this many FLOPs run on the calling thread: waking a helper costs tens of µs.
constexpr double kShareFlops = 8e6;
// The fewest rows of C a chunk holds (all of them when C has fewer).
constexpr int64_t kMinChunkRows = 256;

// Rows of C per chunk: a function of the shape only (see the header). Large enough that a chunk is
// worth a thread hand-off and that re-packing all of op(B), which every chunk's cblas call does,
// stays small beside the chunk's products (at 32 rows it cost up to half of them for long-k
// products such as a filter gradient); small enough that two threads balance.
int64_t rows_per_chunk(int64_t m, int64_t n, int64_t k) {
  const int64_t flops_per_row = 2 * n * k;
  int64_t rows = std::max<int64_t>(kMinChunkRows, (8 << 20) / std::max<int64_t>(1, flops_per_row));
  rows = (rows + 15) / 16 * 16;
  return std::min(rows, m);
}

// sgemm(buffer, batch, m, n, k, transA, transB, a, strideA, b, strideB, c, strideC)
// For each i < batch: C_i[m×n] = op(A_i) · op(B_i), row-major; op(A) is A ([m×k]) or Aᵀ (A stored
// [k×m]), likewise B ([k×n] or stored [n×k]). Offsets and batch strides are in bytes; a stride of 0
// broadcasts one matrix over the batch.
napi_value Sgemm(napi_env env, napi_callback_info info) {
  HeapCall call;
  if (!read_heap_call(env, info, 13, &call)) return nullptr;
  int64_t v[12];
  bool trans_a = false, trans_b = false;
  if (napi_get_value_bool(env, call.args[5], &trans_a) != napi_ok || napi_get_value_bool(env, call.args[6], &trans_b) != napi_ok) {
    throw_error(env, "sgemm: transposeA and transposeB must be booleans");
    return nullptr;
  }
  if (!get_ints(env, call.args + 1, 4, v) || !get_ints(env, call.args + 7, 6, v + 6)) return nullptr;
  const int64_t batch = v[0], m = v[1], n = v[2], k = v[3];
  const int64_t a = v[6], stride_a = v[7], b = v[8], stride_b = v[9], c = v[10], stride_c = v[11];
  if (batch < 0 || m < 0 || n < 0 || k < 0 || m > INT32_MAX || n > INT32_MAX || k > INT32_MAX || stride_a < 0 || stride_b < 0 || stride_c < 0) {
    throw_error(env, "sgemm: negative or too large sizes or strides");
    return nullptr;
  }
  if (batch == 0 || m == 0 || n == 0) return nullptr;
  // Every member of the batch, with checked offsets (checking only the last one trusted that
  // offset + i · stride cannot wrap around).
  for (int64_t i = 0; i < batch; i++) {
    int64_t shift_a, shift_b, shift_c, at_a, at_b, at_c;
    if (__builtin_mul_overflow(i, stride_a, &shift_a) || __builtin_mul_overflow(i, stride_b, &shift_b) || __builtin_mul_overflow(i, stride_c, &shift_c) ||
        __builtin_add_overflow(a, shift_a, &at_a) || __builtin_add_overflow(b, shift_b, &at_b) || __builtin_add_overflow(c, shift_c, &at_c) ||
        !floats_in_bounds(at_a, {m, k}, call.length) || !floats_in_bounds(at_b, {k, n}, call.length) || !floats_in_bounds(at_c, {m, n}, call.length)) {
      throw_error(env, "sgemm: an operand of a batch member lies outside the buffer or is not 4-byte aligned");
      return nullptr;
    }
  }
  // Members of C written by different threads must not share bytes (m · n · 4 fits: C_0 is in the buffer).
  if (batch > 1 && stride_c < m * n * 4) {
    throw_error(env, "sgemm: the output's batch members overlap (strideC smaller than one m × n matrix)");
    return nullptr;
  }
  float* base = reinterpret_cast<float*>(call.heap);
  if (k == 0) {
    for (int64_t i = 0; i < batch; i++) std::memset(call.heap + c + i * stride_c, 0, m * n * 4);
    return nullptr;
  }
  const int64_t rows = rows_per_chunk(m, n, k);
  const int64_t chunks_per_matrix = (m + rows - 1) / rows;
  const int64_t chunks = batch * chunks_per_matrix;  // ≤ batch · m ≤ the buffer's floats: no overflow
  if (chunks > INT32_MAX) {
    throw_error(env, "sgemm: too many matrices in one call");
    return nullptr;
  }
  const int lda = static_cast<int>(trans_a ? m : k);
  const int ldb = static_cast<int>(trans_b ? k : n);
  std::function<void(int)> body = [&](int chunk) {
    const int64_t i = chunk / chunks_per_matrix;
    const int64_t row0 = (chunk % chunks_per_matrix) * rows;
    const int64_t count = std::min(rows, m - row0);
    const float* pa = base + (a + i * stride_a) / 4 + (trans_a ? row0 : row0 * k);
    const float* pb = base + (b + i * stride_b) / 4;
    float* pc = base + (c + i * stride_c) / 4 + row0 * n;
    cblas_sgemm(CblasRowMajor, trans_a ? CblasTrans : CblasNoTrans, trans_b ? CblasTrans : CblasNoTrans, static_cast<int>(count),
                static_cast<int>(n), static_cast<int>(k), 1.0f, pa, lda, pb, ldb, 0.0f, pc, static_cast<int>(n));
  };
  const double flops = 2.0 * batch * m * n * k;
  pool().run(static_cast<int>(chunks), body, flops >= kShareFlops);
  return nullptr;
}

// ==== kernels/conv2d-im2col/ (im2col; also called by conv2d-backprop-filter/ and im2col-3x3/) ====
// Declared in packages/backend/src/kernels/conv2d-im2col/contract.ts and called from that folder's native.ts.

// im2col(buffer, x, out, n, height, width, c, oh, ow, kh, kw, top, left)
// out[(b, i, j), (h, w, ch)] = x[b, i + h − top, j + w − left, ch] (0 outside), NHWC, stride 1.
napi_value Im2col(napi_env env, napi_callback_info info) {
  HeapCall call;
  if (!read_heap_call(env, info, 13, &call)) return nullptr;
  int64_t operands[2];
  WindowGeometry geometry;
  if (!get_ints(env, call.args + 1, 2, operands) || !get_window_geometry(env, call.args + 3, &geometry)) return nullptr;
  const int64_t x = operands[0], out = operands[1];
  // Named copies, not a structured binding: the lambda below captures them (C++17 cannot capture bindings).
  const int64_t n = geometry.n, height = geometry.height, width = geometry.width, c = geometry.c, oh = geometry.oh, ow = geometry.ow, kh = geometry.kh,
                kw = geometry.kw, top = geometry.top, left = geometry.left;
  // Padding is never negative; with every size bounded by the buffer, i + h − top cannot overflow.
  if (top < 0 || left < 0 || n > INT32_MAX || !floats_in_bounds(x, {n, height, width, c}, call.length) || !floats_in_bounds(out, {n, oh, ow, kh, kw, c}, call.length)) {
    throw_error(env, "im2col: an operand lies outside the buffer, or a size or padding is negative or too large");
    return nullptr;
  }
  // Nothing to write (and a zero size would leave the others unbounded by the buffer).
  if (n == 0 || oh == 0 || ow == 0 || kh == 0 || kw == 0 || c == 0) return nullptr;
  const float* source = reinterpret_cast<const float*>(call.heap + x);
  float* target = reinterpret_cast<float*>(call.heap + out);
  std::function<void(int)> body = [&](int image) {
    float* row = target + static_cast<int64_t>(image) * oh * ow * kh * kw * c;
    const float* picture = source + static_cast<int64_t>(image) * height * width * c;
    for (int64_t i = 0; i < oh; i++) {
      for (int64_t j = 0; j < ow; j++) {
        for (int64_t h = 0; h < kh; h++) {
          const int64_t y = i + h - top;
          const int64_t x0 = j - left;
          if (y < 0 || y >= height) {
            std::memset(row, 0, kw * c * 4);
            row += kw * c;
            continue;
          }
          // The filter row's in-image taps [w0, w1) are contiguous in x: one copy, zeros either side.
          // One channel (a first layer on grey images) copies element by element: a memcpy call per
          // 4 bytes cost more than the data.
          const int64_t w0 = std::min(kw, std::max<int64_t>(0, -x0));
          const int64_t w1 = std::max(w0, std::min(kw, width - x0));
          const float* line = picture + y * width * c;
          if (c == 1) {
            for (int64_t w = 0; w < kw; w++) row[w] = w >= w0 && w < w1 ? line[x0 + w] : 0.0f;
          } else {
            std::memset(row, 0, w0 * c * 4);
            if (w1 > w0) std::memcpy(row + w0 * c, line + (x0 + w0) * c, (w1 - w0) * c * 4);
            std::memset(row + w1 * c, 0, (kw - w1) * c * 4);
          }
          row += kw * c;
        }
      }
    }
  };
  pool().run(static_cast<int>(n), body, n * oh * ow * kh * kw * c >= (1 << 18));
  return nullptr;
}

// ==== kernels/im2col-3x3/ (col2im3x3) ===========================================================
// Declared in packages/backend/src/kernels/im2col-3x3/contract.ts and called from that folder's native.ts.

// One image: every pixel adds its in-image taps in the reference's (h, w) order from 0
// (reference.ts's col2imValues adds in float32 in this order; per lane, so the AVX2 clone gives the same bits).
AVX2_CLONE void col2im_image(const float* __restrict picture, float* __restrict result, int64_t height, int64_t width, int64_t c) {
  const int64_t depth = 9 * c;
  for (int64_t y = 0; y < height; y++) {
    for (int64_t z = 0; z < width; z++) {
      float* target = result + (y * width + z) * c;
      for (int64_t ch = 0; ch < c; ch++) target[ch] = 0.0f;
      for (int64_t h = 0; h < 3; h++) {
        const int64_t i = y - h + 1;
        if (i < 0 || i >= height) continue;
        for (int64_t w = 0; w < 3; w++) {
          const int64_t j = z - w + 1;
          if (j < 0 || j >= width) continue;
          const float* source = picture + (i * width + j) * depth + (h * 3 + w) * c;
          for (int64_t ch = 0; ch < c; ch++) target[ch] += source[ch];
        }
      }
    }
  }
}

// col2im3x3(buffer, patches, out, n, height, width, c)
// out[b, y, z, ch] = Σ over the in-image taps (h, w) of patches[b, y − h + 1, z − w + 1, (h·3 + w)·c + ch]:
// the adjoint of a 3×3 'same' im2col (ConcordCol2Im3x3). Each pixel gathers its taps (no scatter),
// one image per chunk: bit-identical with any thread count.
napi_value Col2im3x3(napi_env env, napi_callback_info info) {
  HeapCall call;
  if (!read_heap_call(env, info, 7, &call)) return nullptr;
  int64_t v[6];
  if (!get_ints(env, call.args + 1, 6, v)) return nullptr;
  const int64_t patches = v[0], out = v[1], n = v[2], height = v[3], width = v[4], c = v[5];
  if (n < 0 || height < 0 || width < 0 || c < 0 || n > INT32_MAX || !floats_in_bounds(patches, {n, height, width, 9, c}, call.length) ||
      !floats_in_bounds(out, {n, height, width, c}, call.length)) {
    throw_error(env, "col2im3x3: an operand lies outside the buffer, or a size is negative or too large");
    return nullptr;
  }
  if (n == 0 || height == 0 || width == 0 || c == 0) return nullptr;
  const float* source = reinterpret_cast<const float*>(call.heap + patches);
  float* target = reinterpret_cast<float*>(call.heap + out);
  std::function<void(int)> body = [&](int image) {
    const int64_t pixels = static_cast<int64_t>(image) * height * width;
    col2im_image(source + pixels * 9 * c, target + pixels * c, height, width, c);
  };
  pool().run(static_cast<int>(n), body, n * height * width * 9 * c >= (1 << 18));
  return nullptr;
}

// ==== kernels/max-pool-route/ (maxPoolRoute, maxPoolForward) =====================================
// Declared in packages/backend/src/kernels/max-pool-route/contract.ts and called from that folder's native.ts.

// maxPoolRoute(buffer, x, upstream, out, n, height, width, c, oh, ow, kh, kw, top, left, gather)
// Pools whose strides equal their window (kh × kw), NHWC. Each window's maximum per channel is the
// first position, in the window's row-major scan, whose value exceeds all before it (gemm.wat's
// max_pool_positions and @concord/backend's kernels/max-pool-route/reference.ts pick the same one). Route (gather = 0):
// out (x-shaped) = 0 + upstream[window] at the maximum, 0 elsewhere; gather (1): out[window] =
// upstream[maximum] (upstream x-shaped), 0 for a window entirely in the padding. One pass over x on
// the calling thread, instead of a positions buffer and a JavaScript loop over the windows.

// Eight lanes for the max-pool scan: one AVX2 register in its AVX2 clone, two SSE2 ones elsewhere.
typedef float f32x8 __attribute__((vector_size(32)));
typedef int32_t i32x8 __attribute__((vector_size(32)));

inline f32x8 load8(const float* p) {
  f32x8 v;
  std::memcpy(&v, p, sizeof v);
  return v;
}
inline void store8(float* p, f32x8 v) { std::memcpy(p, &v, sizeof v); }
// All ones in the lanes that hold a NaN or −0 (sign bit alone).
inline i32x8 is_nan_or_negative_zero(f32x8 v) {
  const i32x8 negative_zero = {INT32_MIN, INT32_MIN, INT32_MIN, INT32_MIN, INT32_MIN, INT32_MIN, INT32_MIN, INT32_MIN};
  return (v != v) | (reinterpret_cast<i32x8>(v) == negative_zero);
}
inline f32x8 select8(i32x8 mask, f32x8 a, f32x8 b) {
  return reinterpret_cast<f32x8>((mask & reinterpret_cast<i32x8>(a)) | (~mask & reinterpret_cast<i32x8>(b)));
}

// What max_pool_route writes: the routed gradient (x-shaped), the gathered one (pooled), or the pool
// itself (pooled: each window's maximum, i.e. the gather of x by its own maxima).
enum class PoolMode { kRoute = 0, kGather = 1, kPool = 2 };

// Sizes checked by MaxPoolRoute: every byte count fits the buffer, oh·kh and ow·kw fit int64.
// Returns false if the pool met a NaN, a −0 or a window with no pixel in the image: tfjs's own
// MaxPool kernel (XNNPACK) defines those results differently (it starts from −∞, skips NaNs, and
// compares the taps in another order, which decides between −0 and +0), so the caller falls back to
// it. Without them a window's maximum is one bit pattern whatever the order.
// Every lane operation is per channel, so the AVX2 clone gives the same bits.
AVX2_CLONE bool max_pool_route(const float* x, const float* upstream, float* out, const WindowGeometry& geometry, PoolMode mode) {
  const auto [n, height, width, c, oh, ow, kh, kw, top, left] = geometry;
  const bool route = mode == PoolMode::kRoute;
  // Pixels outside every window (an odd last row, padding) get no route: zero them first.
  const bool covered = top == 0 && left == 0 && oh * kh == height && ow * kw == width;
  if (route && !covered) std::memset(out, 0, n * height * width * c * 4);
  if (n == 0 || oh == 0 || ow == 0) return true;
  // Element offsets of a window's in-image positions, in scan order: at most min(kh, height) ·
  // min(kw, width) of them (a bound the input's size limits, unlike kh · kw).
  std::vector<int64_t> taps(std::max<int64_t>(1, std::min(kh, height) * std::min(kw, width)));
  std::vector<int32_t> winner(c);  // per channel, the index into taps of the window's maximum
  i32x8 unusual = {0, 0, 0, 0, 0, 0, 0, 0};  // lanes that met a NaN or a −0 (pool mode)
  bool unusual_tail = false;
  int64_t window = 0;
  for (int64_t b = 0; b < n; b++) {
    for (int64_t i = 0; i < oh; i++) {
      for (int64_t j = 0; j < ow; j++, window += c) {
        int32_t count = 0;
        for (int64_t u = 0; u < kh; u++) {
          const int64_t y = i * kh - top + u;
          for (int64_t v = 0; v < kw; v++) {
            const int64_t z = j * kw - left + v;
            if (y >= 0 && y < height && z >= 0 && z < width) taps[count++] = ((b * height + y) * width + z) * c;
          }
        }
        if (count == 0) {
          if (mode == PoolMode::kPool) return false;
          if (mode == PoolMode::kGather) std::memset(out + window, 0, c * 4);
          continue;
        }
        // Eight channels at a time in GCC/Clang vector types (GCC does not vectorise the selects on
        // its own); a comparison gives an all-ones lane where it holds, so & selects.
        int64_t ch = 0;
        for (; ch + 8 <= c; ch += 8) {
          f32x8 top_value = load8(x + taps[0] + ch);
          i32x8 top_tap = {0, 0, 0, 0, 0, 0, 0, 0};
          if (mode == PoolMode::kPool) unusual |= is_nan_or_negative_zero(top_value);
          for (int32_t t = 1; t < count; t++) {
            const f32x8 value = load8(x + taps[t] + ch);
            const i32x8 greater = value > top_value;
            if (mode == PoolMode::kPool) unusual |= is_nan_or_negative_zero(value);
            top_value = select8(greater, value, top_value);
            top_tap = (greater & t) | (~greater & top_tap);
          }
          if (mode == PoolMode::kPool) store8(out + window + ch, top_value);
          else std::memcpy(winner.data() + ch, &top_tap, sizeof top_tap);
        }
        for (; ch < c; ch++) {
          float top_value = x[taps[0] + ch];
          int32_t top_tap = 0;
          unusual_tail |= top_value != top_value || std::signbit(top_value) && top_value == 0.0f;
          for (int32_t t = 1; t < count; t++) {
            unusual_tail |= x[taps[t] + ch] != x[taps[t] + ch] || std::signbit(x[taps[t] + ch]) && x[taps[t] + ch] == 0.0f;
            if (x[taps[t] + ch] > top_value) {
              top_value = x[taps[t] + ch];
              top_tap = t;
            }
          }
          if (mode == PoolMode::kPool) out[window + ch] = top_value;
          winner[ch] = top_tap;
        }
        if (mode == PoolMode::kPool) continue;
        if (mode == PoolMode::kGather) {
          for (int64_t k = 0; k < c; k++) out[window + k] = upstream[taps[winner[k]] + k];
          continue;
        }
        // 0 + dy as the JavaScript kernels' += on zeros (turns −0 into +0).
        const float* dy = upstream + window;
        const int64_t c8 = c & ~int64_t{7};
        for (int32_t t = 0; t < count; t++) {
          float* target = out + taps[t];
          for (int64_t k = 0; k < c8; k += 8) {
            i32x8 tap;
            std::memcpy(&tap, winner.data() + k, sizeof tap);
            const f32x8 zero = {0.0f, 0.0f, 0.0f, 0.0f, 0.0f, 0.0f, 0.0f, 0.0f};
            store8(target + k, select8(tap == t, zero + load8(dy + k), zero));
          }
          for (int64_t k = c8; k < c; k++) target[k] = winner[k] == t ? 0.0f + dy[k] : 0.0f;
        }
      }
    }
  }
  if (mode != PoolMode::kPool) return true;
  for (int lane = 0; lane < 8; lane++) unusual_tail |= unusual[lane] != 0;
  return !unusual_tail;
}

// maxPoolRoute(buffer, x, upstream, out, n, height, width, c, oh, ow, kh, kw, top, left, mode): mode 0
// routes (out x-shaped), 1 gathers (out pooled, upstream x-shaped), 2 pools x (out pooled, upstream
// unused). Returns false where mode 2 met a NaN or an empty window (nothing useful written).
napi_value MaxPoolRoute(napi_env env, napi_callback_info info) {
  HeapCall call;
  if (!read_heap_call(env, info, 15, &call)) return nullptr;
  int64_t operands[3], mode = 0;
  WindowGeometry geometry;
  if (!get_ints(env, call.args + 1, 3, operands) || !get_window_geometry(env, call.args + 4, &geometry) || !get_ints(env, call.args + 14, 1, &mode)) {
    return nullptr;
  }
  const auto [x, upstream, out] = operands;
  const auto [n, height, width, c, oh, ow, kh, kw, top, left] = geometry;
  const std::initializer_list<int64_t> input_shape = {n, height, width, c}, pooled_shape = {n, oh, ow, c};
  const bool pooled_out = mode != 0;
  const bool pooled_upstream = mode == 0;
  // oh·kh and ow·kw bound the scan's i·kh + u and j·kw + v; a window's in-image taps are counted in int32.
  int64_t window_rows, window_columns, taps_per_window;
  if (mode < 0 || mode > 2 || c < 1 || kh < 1 || kw < 1 || top < 0 || left < 0 || !checked_product({oh, kh}, &window_rows) ||
      !checked_product({ow, kw}, &window_columns) || !checked_product({std::min(kh, height), std::min(kw, width)}, &taps_per_window) ||
      taps_per_window > INT32_MAX || !floats_in_bounds(x, input_shape, call.length) ||
      !floats_in_bounds(upstream, pooled_upstream ? pooled_shape : input_shape, call.length) ||
      !floats_in_bounds(out, pooled_out ? pooled_shape : input_shape, call.length)) {
    throw_error(env, "maxPoolRoute: an operand lies outside the buffer, a size or padding is negative or too large, or mode is not 0, 1 or 2");
    return nullptr;
  }
  const float* base = reinterpret_cast<const float*>(call.heap);
  bool written = false;
  guarded(env, "maxPoolRoute", [&] {
    written = max_pool_route(base + x / 4, base + upstream / 4, reinterpret_cast<float*>(call.heap + out), geometry, static_cast<PoolMode>(mode));
  });
  bool pending = false;
  napi_is_exception_pending(env, &pending);
  if (pending) return nullptr;
  napi_value result;
  napi_get_boolean(env, written, &result);
  return result;
}

// ==== kernels/batch-norm/ (batchNorm, batchNormGrad, batchNormGradGrad, batchNormMoments) =========
// Declared in packages/backend/src/kernels/batch-norm/contract.ts and called from that folder's native.ts.
// x is [rows, channels] (NHWC flattened). The same double arithmetic, operation for operation, as
// @concord/backend's JavaScript kernels (kernels/batch-norm/reference.ts: see the formulas there), so both give
// the same bits (no FMA contraction: built with -ffp-contract=off). Rows are summed in order on the
// calling thread, so results never depend on the thread count. Inner loops run over channels with
// per-channel accumulators and a select for the ReLU: -O3 vectorises them (AVX2 clones: above).

struct Affine {
  std::vector<double> mean, inverse_std, a, b;
};

// a = γs, b = β − aμ.
void scale_and_shift(Affine& f, const float* gamma, const float* beta, int64_t channels) {
  for (int64_t c = 0; c < channels; c++) {
    f.a[c] = static_cast<double>(gamma[c]) * f.inverse_std[c];
    f.b[c] = static_cast<double>(beta[c]) - f.a[c] * f.mean[c];
  }
}

// Moments in one pass of sums shifted by the first row, then a = γs, b = β − aμ.
AVX2_CLONE Affine affine(const float* x, const float* gamma, const float* beta, int64_t rows, int64_t channels, double epsilon) {
  Affine f{std::vector<double>(channels), std::vector<double>(channels), std::vector<double>(channels), std::vector<double>(channels)};
  std::vector<double> sum(channels, 0.0), squares(channels, 0.0);
  double* s1 = sum.data();
  double* s2 = squares.data();
  for (int64_t r = 0; r < rows; r++) {
    const float* row = x + r * channels;
    for (int64_t c = 0; c < channels; c++) {
      const double d = static_cast<double>(row[c]) - static_cast<double>(x[c]);
      s1[c] += d;
      s2[c] += d * d;
    }
  }
  const double count = static_cast<double>(rows);
  for (int64_t c = 0; c < channels; c++) {
    const double shifted = s1[c] / count;
    f.mean[c] = static_cast<double>(x[c]) + shifted;
    f.inverse_std[c] = 1.0 / std::sqrt(std::max(s2[c] / count - shifted * shifted, 0.0) + epsilon);
  }
  scale_and_shift(f, gamma, beta, channels);
  return f;
}

// The same Affine from moments a previous call computed (mean, then inverse std, per channel).
Affine affine_from_moments(const double* moments, const float* gamma, const float* beta, int64_t channels) {
  Affine f{std::vector<double>(moments, moments + channels), std::vector<double>(moments + channels, moments + 2 * channels), std::vector<double>(channels),
           std::vector<double>(channels)};
  scale_and_shift(f, gamma, beta, channels);
  return f;
}

// Not inlined: inside the N-API functions' exception-handling regions GCC does not vectorise the loop.
// Four channels at a time as GCC/Clang vector types: one AVX2 register in the AVX2 clone, two SSE2
// (or NEON) registers elsewhere, scalar code where there is neither. GCC does not vectorise the
// ReLU's select on its own, nor widen two-lane vector code to AVX2's four lanes (two lanes left the
// AVX2 clone at SSE width). Every operation is per lane, so the width never changes a bit. The mask
// is a bitwise AND with the comparison, i.e. exactly z > 0 ? z : +0.
typedef double f64x4 __attribute__((vector_size(32)));
typedef int64_t i64x4 __attribute__((vector_size(32)));

inline f64x4 load_floats(const float* p) {
  f32x4 v;
  std::memcpy(&v, p, sizeof v);
  return __builtin_convertvector(v, f64x4);
}
inline f64x4 load_doubles(const double* p) {
  f64x4 v;
  std::memcpy(&v, p, sizeof v);
  return v;
}
inline void store_doubles(double* p, f64x4 v) { std::memcpy(p, &v, sizeof v); }
inline void store_floats(float* p, f64x4 v) {
  const f32x4 f = __builtin_convertvector(v, f32x4);
  std::memcpy(p, &f, sizeof f);
}
// v where mask holds (z > 0), +0 elsewhere; all of v when relu is off (keep = all ones).
inline f64x4 masked(f64x4 v, f64x4 z, i64x4 keep) {
  const f64x4 zero = {0.0, 0.0, 0.0, 0.0};
  return reinterpret_cast<f64x4>(reinterpret_cast<i64x4>(v) & ((z > zero) | keep));
}
inline double masked(double v, double z, bool relu) { return !relu || z > 0 ? v : 0.0; }

AVX2_CLONE void batch_norm_forward(bool relu, const float* x, float* y, const double* a, const double* b, int64_t rows, int64_t channels) {
  const int64_t quads = channels & ~int64_t{3};
  const i64x4 keep = {relu ? 0 : -1, relu ? 0 : -1, relu ? 0 : -1, relu ? 0 : -1};
  for (int64_t r = 0; r < rows; r++) {
    const float* row = x + r * channels;
    float* target = y + r * channels;
    for (int64_t c = 0; c < quads; c += 4) {
      const f64x4 z = load_floats(row + c) * load_doubles(a + c) + load_doubles(b + c);
      store_floats(target + c, masked(z, z, keep));
    }
    for (int64_t c = quads; c < channels; c++) {
      const double z = static_cast<double>(row[c]) * a[c] + b[c];
      target[c] = static_cast<float>(masked(z, z, relu));
    }
  }
}

// Σg and Σg·x per channel (added to sum_g, sum_gx), g = dy masked by x·a + b > 0 when relu.
AVX2_CLONE void batch_norm_sums(bool relu, const float* x, const float* dy, const double* a, const double* b, double* sum_g, double* sum_gx, int64_t rows, int64_t channels) {
  const int64_t quads = channels & ~int64_t{3};
  const i64x4 keep = {relu ? 0 : -1, relu ? 0 : -1, relu ? 0 : -1, relu ? 0 : -1};
  for (int64_t r = 0; r < rows; r++) {
    const float* row = x + r * channels;
    const float* upstream = dy + r * channels;
    for (int64_t c = 0; c < quads; c += 4) {
      const f64x4 xi = load_floats(row + c);
      const f64x4 g = masked(load_floats(upstream + c), xi * load_doubles(a + c) + load_doubles(b + c), keep);
      store_doubles(sum_g + c, load_doubles(sum_g + c) + g);
      store_doubles(sum_gx + c, load_doubles(sum_gx + c) + g * xi);
    }
    for (int64_t c = quads; c < channels; c++) {
      const double xi = row[c];
      const double g = masked(static_cast<double>(upstream[c]), xi * a[c] + b[c], relu);
      sum_g[c] += g;
      sum_gx[c] += g * xi;
    }
  }
}

// dx = g·k1 + x·k2 + k3, g as in batch_norm_sums.
AVX2_CLONE void batch_norm_dx(bool relu, const float* x, const float* dy, const double* a, const double* b, const double* k1, const double* k2, const double* k3, float* dx,
                   int64_t rows, int64_t channels) {
  const int64_t quads = channels & ~int64_t{3};
  const i64x4 keep = {relu ? 0 : -1, relu ? 0 : -1, relu ? 0 : -1, relu ? 0 : -1};
  for (int64_t r = 0; r < rows; r++) {
    const float* row = x + r * channels;
    const float* upstream = dy + r * channels;
    float* target = dx + r * channels;
    for (int64_t c = 0; c < quads; c += 4) {
      const f64x4 xi = load_floats(row + c);
      const f64x4 g = masked(load_floats(upstream + c), xi * load_doubles(a + c) + load_doubles(b + c), keep);
      store_floats(target + c, g * load_doubles(k1 + c) + xi * load_doubles(k2 + c) + load_doubles(k3 + c));
    }
    for (int64_t c = quads; c < channels; c++) {
      const double xi = row[c];
      const double g = masked(static_cast<double>(upstream[c]), xi * a[c] + b[c], relu);
      target[c] = static_cast<float>(g * k1[c] + xi * k2[c] + k3[c]);
    }
  }
}

void batch_norm_backward(bool relu, const float* x, const float* dy, float* dx, float* d_scale, float* d_offset, const Affine& f, int64_t rows, int64_t channels) {
  const double* a = f.a.data();
  const double* b = f.b.data();
  std::vector<double> sum_g(channels, 0.0), sum_gx(channels, 0.0), k1(channels), k2(channels), k3(channels);
  batch_norm_sums(relu, x, dy, a, b, sum_g.data(), sum_gx.data(), rows, channels);
  const double count = static_cast<double>(rows);
  for (int64_t c = 0; c < channels; c++) {
    const double g_mean = sum_g[c] / count;
    const double gx_mean = f.inverse_std[c] * (sum_gx[c] / count - f.mean[c] * g_mean);
    d_offset[c] = static_cast<float>(sum_g[c]);
    d_scale[c] = static_cast<float>(gx_mean * count);
    k1[c] = a[c];
    k2[c] = -(a[c] * f.inverse_std[c] * gx_mean);
    k3[c] = -(a[c] * g_mean) - k2[c] * f.mean[c];
  }
  batch_norm_dx(relu, x, dy, a, b, k1.data(), k2.data(), k3.data(), dx, rows, channels);
}

// The optional last argument of batchNorm / batchNormGrad: a Float64Array of 2 · channels (each
// channel's mean, then its inverse standard deviation), or undefined. Sets *moments (nullptr if undefined).
bool get_moments(napi_env env, napi_value value, int64_t channels, double** moments) {
  *moments = nullptr;
  napi_valuetype type;
  if (napi_typeof(env, value, &type) != napi_ok) return throw_error(env, "could not read the moments argument");
  if (type == napi_undefined) return true;
  bool is_typed = false;
  napi_is_typedarray(env, value, &is_typed);
  napi_typedarray_type kind;
  size_t length = 0;
  void* data = nullptr;
  if (!is_typed || napi_get_typedarray_info(env, value, &kind, &length, &data, nullptr, nullptr) != napi_ok || kind != napi_float64_array ||
      static_cast<int64_t>(length) != 2 * channels) {
    return throw_error(env, "moments: expected undefined or a Float64Array of 2 · channels (means, then inverse standard deviations)");
  }
  *moments = static_cast<double*>(data);
  return true;
}

// batchNorm(buffer, x, scale, offset, out, rows, channels, epsilon, relu[, moments]): with a
// moments array, also writes the moments there (batchNormGrad can then skip its moments pass).
napi_value BatchNorm(napi_env env, napi_callback_info info) {
  HeapCall call;
  if (!read_heap_call_upto(env, info, 9, 10, &call)) return nullptr;
  int64_t v[6];
  double epsilon;
  int64_t relu;
  if (!get_ints(env, call.args + 1, 6, v) || !get_double(env, call.args[7], &epsilon) || !get_ints(env, call.args + 8, 1, &relu)) return nullptr;
  const int64_t x = v[0], scale = v[1], offset = v[2], out = v[3], rows = v[4], channels = v[5];
  if (rows < 1 || channels < 1 || !(epsilon > 0) || !floats_in_bounds(x, {rows, channels}, call.length) || !floats_in_bounds(out, {rows, channels}, call.length) ||
      !floats_in_bounds(scale, {channels}, call.length) || !floats_in_bounds(offset, {channels}, call.length)) {
    throw_error(env, "batchNorm: an operand lies outside the buffer, or rows/channels < 1 or too large, or epsilon ≤ 0");
    return nullptr;
  }
  double* moments;
  if (!get_moments(env, call.args[9], channels, &moments)) return nullptr;
  const float* px = reinterpret_cast<const float*>(call.heap + x);
  float* py = reinterpret_cast<float*>(call.heap + out);
  return guarded(env, "batchNorm", [&] {
    const Affine f = affine(px, reinterpret_cast<const float*>(call.heap + scale), reinterpret_cast<const float*>(call.heap + offset), rows, channels, epsilon);
    batch_norm_forward(relu != 0, px, py, f.a.data(), f.b.data(), rows, channels);
    if (moments) {
      std::copy(f.mean.begin(), f.mean.end(), moments);
      std::copy(f.inverse_std.begin(), f.inverse_std.end(), moments + channels);
    }
  });
}

// batchNormGrad(buffer, x, scale, offset, dy, dx, dScale, dOffset, rows, channels, epsilon, relu[, moments]):
// with a moments array (what batchNorm wrote for this x and epsilon), no moments pass over x.
napi_value BatchNormGrad(napi_env env, napi_callback_info info) {
  HeapCall call;
  if (!read_heap_call_upto(env, info, 12, 13, &call)) return nullptr;
  int64_t v[9];
  double epsilon;
  int64_t relu;
  if (!get_ints(env, call.args + 1, 9, v) || !get_double(env, call.args[10], &epsilon) || !get_ints(env, call.args + 11, 1, &relu)) return nullptr;
  const int64_t x = v[0], scale = v[1], offset = v[2], dy = v[3], dx = v[4], d_scale = v[5], d_offset = v[6], rows = v[7], channels = v[8];
  if (rows < 1 || channels < 1 || !(epsilon > 0) || !floats_in_bounds(x, {rows, channels}, call.length) || !floats_in_bounds(dy, {rows, channels}, call.length) ||
      !floats_in_bounds(dx, {rows, channels}, call.length) || !floats_in_bounds(scale, {channels}, call.length) || !floats_in_bounds(offset, {channels}, call.length) ||
      !floats_in_bounds(d_scale, {channels}, call.length) || !floats_in_bounds(d_offset, {channels}, call.length)) {
    throw_error(env, "batchNormGrad: an operand lies outside the buffer, or rows/channels < 1 or too large, or epsilon ≤ 0");
    return nullptr;
  }
  double* moments;
  if (!get_moments(env, call.args[12], channels, &moments)) return nullptr;
  const float* px = reinterpret_cast<const float*>(call.heap + x);
  const float* pdy = reinterpret_cast<const float*>(call.heap + dy);
  float* pdx = reinterpret_cast<float*>(call.heap + dx);
  float* ds = reinterpret_cast<float*>(call.heap + d_scale);
  float* doff = reinterpret_cast<float*>(call.heap + d_offset);
  return guarded(env, "batchNormGrad", [&] {
    const float* gamma = reinterpret_cast<const float*>(call.heap + scale);
    const float* beta = reinterpret_cast<const float*>(call.heap + offset);
    const Affine f = moments ? affine_from_moments(moments, gamma, beta, channels) : affine(px, gamma, beta, rows, channels, epsilon);
    batch_norm_backward(relu != 0, px, pdy, pdx, ds, doff, f, rows, channels);
  });
}

// ConcordBatchNormGradGrad, the gradient of batchNormGrad (second order): reference.ts's
// batchNormGradGrad operation for operation, so the same bits. x̂ = (x − μ)·s per element in double,
// the forward's ReLU mask x·a + b > 0; the upstream a (of dx) may be absent (nullptr).

// Σg, Σg·x̂ and, with a, Σa, Σa·x̂, Σa·g per channel (added to the sums), rows in order.
AVX2_CLONE void batch_norm_grad_grad_sums(bool relu, const float* x, const float* dy, const float* up_a, const Affine& f, double* sum_g, double* sum_gx, double* sum_a,
                                          double* sum_ax, double* sum_ag, int64_t rows, int64_t channels) {
  const double* mean = f.mean.data();
  const double* inverse_std = f.inverse_std.data();
  const double* a = f.a.data();
  const double* b = f.b.data();
  const int64_t quads = channels & ~int64_t{3};
  const i64x4 keep = {relu ? 0 : -1, relu ? 0 : -1, relu ? 0 : -1, relu ? 0 : -1};
  for (int64_t r = 0; r < rows; r++) {
    const int64_t row = r * channels;
    for (int64_t c = 0; c < quads; c += 4) {
      const f64x4 xi = load_floats(x + row + c);
      const f64x4 normalised = (xi - load_doubles(mean + c)) * load_doubles(inverse_std + c);
      const f64x4 g = masked(load_floats(dy + row + c), xi * load_doubles(a + c) + load_doubles(b + c), keep);
      store_doubles(sum_g + c, load_doubles(sum_g + c) + g);
      store_doubles(sum_gx + c, load_doubles(sum_gx + c) + g * normalised);
      if (up_a) {
        const f64x4 ai = load_floats(up_a + row + c);
        store_doubles(sum_a + c, load_doubles(sum_a + c) + ai);
        store_doubles(sum_ax + c, load_doubles(sum_ax + c) + ai * normalised);
        store_doubles(sum_ag + c, load_doubles(sum_ag + c) + ai * g);
      }
    }
    for (int64_t c = quads; c < channels; c++) {
      const double xi = x[row + c];
      const double normalised = (xi - mean[c]) * inverse_std[c];
      const double g = masked(static_cast<double>(dy[row + c]), xi * a[c] + b[c], relu);
      sum_g[c] += g;
      sum_gx[c] += g * normalised;
      if (up_a) {
        const double ai = up_a[row + c];
        sum_a[c] += ai;
        sum_ax[c] += ai * normalised;
        sum_ag[c] += ai * g;
      }
    }
  }
}

// The outputs' per-channel coefficients (reference.ts's gradGradCoefficients):
// dX = g·k1 + x̂·k2 + a·k3 + k4, dDy = mask·(a·l1 + x̂·l2 + l3).
struct GradGradCoefficients {
  std::vector<double> k1, k2, k3, k4, l1, l2, l3;
};

AVX2_CLONE void batch_norm_grad_grad_outputs(bool relu, const float* x, const float* dy, const float* up_a, const Affine& f, const GradGradCoefficients& k, float* d_x, float* d_dy,
                                             int64_t rows, int64_t channels) {
  const double* mean = f.mean.data();
  const double* inverse_std = f.inverse_std.data();
  const double* a = f.a.data();
  const double* b = f.b.data();
  const double *k1 = k.k1.data(), *k2 = k.k2.data(), *k3 = k.k3.data(), *k4 = k.k4.data(), *l1 = k.l1.data(), *l2 = k.l2.data(), *l3 = k.l3.data();
  const int64_t quads = channels & ~int64_t{3};
  const i64x4 keep = {relu ? 0 : -1, relu ? 0 : -1, relu ? 0 : -1, relu ? 0 : -1};
  for (int64_t r = 0; r < rows; r++) {
    const int64_t row = r * channels;
    for (int64_t c = 0; c < quads; c += 4) {
      const f64x4 xi = load_floats(x + row + c);
      const f64x4 normalised = (xi - load_doubles(mean + c)) * load_doubles(inverse_std + c);
      const f64x4 z = xi * load_doubles(a + c) + load_doubles(b + c);
      const f64x4 g = masked(load_floats(dy + row + c), z, keep);
      if (up_a) {
        const f64x4 ai = load_floats(up_a + row + c);
        store_floats(d_x + row + c, g * load_doubles(k1 + c) + normalised * load_doubles(k2 + c) + ai * load_doubles(k3 + c) + load_doubles(k4 + c));
        store_floats(d_dy + row + c, masked(ai * load_doubles(l1 + c) + normalised * load_doubles(l2 + c) + load_doubles(l3 + c), z, keep));
      } else {
        store_floats(d_x + row + c, g * load_doubles(k1 + c) + normalised * load_doubles(k2 + c) + load_doubles(k4 + c));
        store_floats(d_dy + row + c, masked(normalised * load_doubles(l2 + c) + load_doubles(l3 + c), z, keep));
      }
    }
    for (int64_t c = quads; c < channels; c++) {
      const double xi = x[row + c];
      const double normalised = (xi - mean[c]) * inverse_std[c];
      const double z = xi * a[c] + b[c];
      const double g = masked(static_cast<double>(dy[row + c]), z, relu);
      if (up_a) {
        const double ai = up_a[row + c];
        d_x[row + c] = static_cast<float>(g * k1[c] + normalised * k2[c] + ai * k3[c] + k4[c]);
        d_dy[row + c] = static_cast<float>(masked(ai * l1[c] + normalised * l2[c] + l3[c], z, relu));
      } else {
        d_x[row + c] = static_cast<float>(g * k1[c] + normalised * k2[c] + k4[c]);
        d_dy[row + c] = static_cast<float>(masked(normalised * l2[c] + l3[c], z, relu));
      }
    }
  }
}

void batch_norm_grad_grad(bool relu, const float* x, const float* gamma, const float* dy, const float* up_a, const float* up_b, const float* up_e, float* d_x, float* d_scale,
                          float* d_dy, const Affine& f, int64_t rows, int64_t channels) {
  std::vector<double> sum_g(channels, 0.0), sum_gx(channels, 0.0), sum_a(channels, 0.0), sum_ax(channels, 0.0), sum_ag(channels, 0.0);
  batch_norm_grad_grad_sums(relu, x, dy, up_a, f, sum_g.data(), sum_gx.data(), sum_a.data(), sum_ax.data(), sum_ag.data(), rows, channels);
  const size_t n = static_cast<size_t>(channels);
  GradGradCoefficients k{std::vector<double>(n), std::vector<double>(n), std::vector<double>(n), std::vector<double>(n),
                         std::vector<double>(n), std::vector<double>(n), std::vector<double>(n)};
  const double count = static_cast<double>(rows);
  for (int64_t c = 0; c < channels; c++) {
    const double s = f.inverse_std[c];
    const double g_mean = sum_g[c] / count;
    const double gx_mean = sum_gx[c] / count;
    const double a_mean = sum_a[c] / count;
    const double ax_mean = sum_ax[c] / count;
    const double ag_mean = sum_ag[c] / count;
    const double b = up_b ? static_cast<double>(up_b[c]) : 0.0;
    const double e = up_e ? static_cast<double>(up_e[c]) : 0.0;
    const double gs = static_cast<double>(gamma[c]) * s;
    const double gs2 = gs * s;
    d_scale[c] = static_cast<float>(s * (sum_ag[c] - g_mean * sum_a[c] - gx_mean * sum_ax[c]));
    k.k1[c] = s * b - gs2 * ax_mean;
    k.k2[c] = -(s * b * gx_mean) - gs2 * (ag_mean - a_mean * g_mean - 3 * ax_mean * gx_mean);
    k.k3[c] = -(gs2 * gx_mean);
    k.k4[c] = -(g_mean * k.k1[c] + a_mean * k.k3[c]);
    k.l1[c] = gs;
    k.l2[c] = b - gs * ax_mean;
    k.l3[c] = e - gs * a_mean;
  }
  batch_norm_grad_grad_outputs(relu, x, dy, up_a, f, k, d_x, d_dy, rows, channels);
}

// batchNormGradGrad(buffer, x, scale, offset, dy, a, b, e, dX, dScale, dDy, rows, channels, epsilon, relu[, moments]):
// a, b, e are byte offsets or −1 (absent: zero); moments as for batchNormGrad.
napi_value BatchNormGradGrad(napi_env env, napi_callback_info info) {
  HeapCall call;
  if (!read_heap_call_upto(env, info, 15, 16, &call)) return nullptr;
  int64_t v[12];
  double epsilon;
  int64_t relu;
  if (!get_ints(env, call.args + 1, 12, v) || !get_double(env, call.args[13], &epsilon) || !get_ints(env, call.args + 14, 1, &relu)) return nullptr;
  const int64_t x = v[0], scale = v[1], offset = v[2], dy = v[3], up_a = v[4], up_b = v[5], up_e = v[6], d_x = v[7], d_scale = v[8], d_dy = v[9], rows = v[10],
                channels = v[11];
  const auto absent_or_in_bounds = [&](int64_t at, std::initializer_list<int64_t> shape) { return at == -1 || floats_in_bounds(at, shape, call.length); };
  if (rows < 1 || channels < 1 || !(epsilon > 0) || !floats_in_bounds(x, {rows, channels}, call.length) || !floats_in_bounds(dy, {rows, channels}, call.length) ||
      !floats_in_bounds(d_x, {rows, channels}, call.length) || !floats_in_bounds(d_dy, {rows, channels}, call.length) ||
      !floats_in_bounds(scale, {channels}, call.length) || !floats_in_bounds(offset, {channels}, call.length) || !floats_in_bounds(d_scale, {channels}, call.length) ||
      !absent_or_in_bounds(up_a, {rows, channels}) || !absent_or_in_bounds(up_b, {channels}) || !absent_or_in_bounds(up_e, {channels})) {
    throw_error(env, "batchNormGradGrad: an operand lies outside the buffer (a, b, e: −1 when absent), or rows/channels < 1 or too large, or epsilon ≤ 0");
    return nullptr;
  }
  double* moments;
  if (!get_moments(env, call.args[15], channels, &moments)) return nullptr;
  const auto floats = [&](int64_t at) { return at == -1 ? nullptr : reinterpret_cast<float*>(call.heap + at); };
  return guarded(env, "batchNormGradGrad", [&] {
    const float* px = floats(x);
    const float* gamma = floats(scale);
    const float* beta = floats(offset);
    const Affine f = moments ? affine_from_moments(moments, gamma, beta, channels) : affine(px, gamma, beta, rows, channels, epsilon);
    batch_norm_grad_grad(relu != 0, px, gamma, floats(dy), floats(up_a), floats(up_b), floats(up_e), floats(d_x), floats(d_scale), floats(d_dy), f, rows, channels);
  });
}

// ==== kernels/sgd-step/ (sgdStep) ================================================================
// Declared in packages/backend/src/kernels/sgd-step/contract.ts and called from that folder's native.ts.
// Like addBias (direct-binary/ below), each element is one IEEE float32 operation (or two), as in the
// JavaScript / tfjs-wasm kernels they replace, so the bits are the same (no FMA: -ffp-contract=off;
// tested against the wasm path).

// out = param − float(grad · rate), elementwise (@concord/backend's SGD step kernel).
AVX2_CLONE void sgd_step(const float* __restrict param, const float* __restrict grad, float* __restrict out, int64_t size, float rate) {
  for (int64_t i = 0; i < size; i++) out[i] = param[i] - grad[i] * rate;
}

// sgdStep(buffer, param, grad, out, size, lr): out = param − float32(grad · float32(lr)).
napi_value SgdStep(napi_env env, napi_callback_info info) {
  HeapCall call;
  if (!read_heap_call(env, info, 6, &call)) return nullptr;
  int64_t v[4];
  double lr;
  if (!get_ints(env, call.args + 1, 4, v) || !get_double(env, call.args[5], &lr)) return nullptr;
  const int64_t param = v[0], grad = v[1], out = v[2], size = v[3];
  if (!floats_in_bounds(param, {size}, call.length) || !floats_in_bounds(grad, {size}, call.length) || !floats_in_bounds(out, {size}, call.length)) {
    throw_error(env, "sgdStep: an operand lies outside the buffer, or the size is negative or too large");
    return nullptr;
  }
  const float* base = reinterpret_cast<const float*>(call.heap);
  sgd_step(base + param / 4, base + grad / 4, reinterpret_cast<float*>(call.heap + out), size, static_cast<float>(lr));
  return nullptr;
}

// ==== kernels/direct-binary/ (addBias) ===========================================================
// Declared in packages/backend/src/kernels/direct-binary/contract.ts and called from that folder's native.ts.
// out[r, c] = x[r, c] + bias[c]: tf.add of a [..., channels] tensor and a [channels] bias.
AVX2_CLONE void add_bias(const float* __restrict x, const float* __restrict bias, float* __restrict out, int64_t rows, int64_t channels) {
  for (int64_t r = 0; r < rows; r++) {
    const float* row = x + r * channels;
    float* target = out + r * channels;
    for (int64_t c = 0; c < channels; c++) target[c] = row[c] + bias[c];
  }
}

// addBias(buffer, x, bias, out, rows, channels): out[r, c] = x[r, c] + bias[c].
napi_value AddBias(napi_env env, napi_callback_info info) {
  HeapCall call;
  if (!read_heap_call(env, info, 6, &call)) return nullptr;
  int64_t v[5];
  if (!get_ints(env, call.args + 1, 5, v)) return nullptr;
  const int64_t x = v[0], bias = v[1], out = v[2], rows = v[3], channels = v[4];
  if (!floats_in_bounds(x, {rows, channels}, call.length) || !floats_in_bounds(out, {rows, channels}, call.length) || !floats_in_bounds(bias, {channels}, call.length)) {
    throw_error(env, "addBias: an operand lies outside the buffer, or rows/channels are negative or too large");
    return nullptr;
  }
  const float* base = reinterpret_cast<const float*>(call.heap);
  add_bias(base + x / 4, base + bias / 4, reinterpret_cast<float*>(call.heap + out), rows, channels);
  return nullptr;
}

// ==== thread control (not a kernel: @concord/backend-native's src/load.ts, THREAD_CONTROL) ===========

napi_value SetThreads(napi_env env, napi_callback_info info) {
  napi_value args[1];
  if (!get_args(env, info, 1, args)) return nullptr;
  int32_t threads;
  if (napi_get_value_int32(env, args[0], &threads) != napi_ok || threads < 1) {
    throw_error(env, "setThreads: expected an integer ≥ 1");
    return nullptr;
  }
  return guarded(env, "setThreads", [&] { pool().set_threads(threads); });
}

napi_value Threads(napi_env env, napi_callback_info) {
  napi_value result;
  napi_create_int32(env, pool().threads(), &result);
  return result;
}

// The JavaScript threads with the addon loaded (while more than one, calls run on the caller's thread only).
napi_value LoadedThreads(napi_env env, napi_callback_info) {
  napi_value result;
  napi_create_int32(env, pool().loaded_environments(), &result);
  return result;
}

napi_value Config(napi_env env, napi_callback_info) {
  napi_value result;
  const char* config = openblas_get_config();
  napi_create_string_utf8(env, config ? config : "", NAPI_AUTO_LENGTH, &result);
  return result;
}

}  // namespace

NAPI_MODULE_INIT() {
  // Every cblas call is single-threaded: the addon's own chunks use the cores.
  static std::once_flag once;
  std::call_once(once, [] {
    openblas_set_num_threads(1);
    pool().set_threads(1);
  });
  // Counted per Node environment; a worker thread that ends removes itself.
  pool().environment_loaded();
  napi_add_env_cleanup_hook(env, [](void*) { pool().environment_unloaded(); }, nullptr);
  // The members of @concord/backend's NativeKernels, by kernel folder (each declared in that folder's
  // contract.ts), then thread control; src/contract.test.ts fails if this list and the contracts differ.
  // batchNorm, batchNormGrad and batchNormGradGrad take the optional moments argument, maxPoolRoute mode 2 (see there).
  napi_value yes;
  napi_get_boolean(env, true, &yes);
  const napi_property_descriptor properties[] = {
      {"sgemm", nullptr, Sgemm, nullptr, nullptr, nullptr, napi_default, nullptr},                        // batch-mat-mul/
      {"im2col", nullptr, Im2col, nullptr, nullptr, nullptr, napi_default, nullptr},                      // conv2d-im2col/
      {"col2im3x3", nullptr, Col2im3x3, nullptr, nullptr, nullptr, napi_default, nullptr},                // im2col-3x3/
      {"maxPoolRoute", nullptr, MaxPoolRoute, nullptr, nullptr, nullptr, napi_default, nullptr},          // max-pool-route/
      {"maxPoolForward", nullptr, nullptr, nullptr, nullptr, yes, napi_enumerable, nullptr},              // max-pool-route/
      {"batchNorm", nullptr, BatchNorm, nullptr, nullptr, nullptr, napi_default, nullptr},                // batch-norm/
      {"batchNormGrad", nullptr, BatchNormGrad, nullptr, nullptr, nullptr, napi_default, nullptr},        // batch-norm/
      {"batchNormGradGrad", nullptr, BatchNormGradGrad, nullptr, nullptr, nullptr, napi_default, nullptr},// batch-norm/
      {"batchNormMoments", nullptr, nullptr, nullptr, nullptr, yes, napi_enumerable, nullptr},            // batch-norm/
      {"sgdStep", nullptr, SgdStep, nullptr, nullptr, nullptr, napi_default, nullptr},                    // sgd-step/
      {"addBias", nullptr, AddBias, nullptr, nullptr, nullptr, napi_default, nullptr},                    // direct-binary/
      {"setThreads", nullptr, SetThreads, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"threads", nullptr, Threads, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"loadedThreads", nullptr, LoadedThreads, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"blasConfig", nullptr, Config, nullptr, nullptr, nullptr, napi_default, nullptr},
  };
  napi_define_properties(env, exports, sizeof(properties) / sizeof(properties[0]), properties);
  return exports;
}
