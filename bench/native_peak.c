// The CPU's own multiply-add ceiling, for the physical bound of the
// benchmark's targets (bench/bound.ts): independent fused multiply-add
// chains with no memory traffic on every thread, at the widest vectors the
// CPU has (AVX-512, else AVX2) and at WASM SIMD's 128 bits. Dev-only:
//   clang-16 -O2 -mavx512f -mfma -pthread bench/native_peak.c -o peak && ./peak 2
// Prints one JSON line: {"widest": GFLOP/s, "lanes": n, "sse128": GFLOP/s}.
#include <immintrin.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#define CHAINS 12
#define ROUNDS 100000000L

static float sink[64];

static double now(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return t.tv_sec + t.tv_nsec * 1e-9;
}

// The empty asm keeps every chain live and in a register, so the compiler
// can neither fold the loop nor merge the chains.
#ifdef __AVX512F__
#define WIDE __m512
#define WIDE_LANES 16
#define WIDE_SET _mm512_set1_ps
#define WIDE_FMA _mm512_fmadd_ps
#define WIDE_FIRST(x) _mm512_reduce_add_ps(x)
#else
#define WIDE __m256
#define WIDE_LANES 8
#define WIDE_SET _mm256_set1_ps
#define WIDE_FMA _mm256_fmadd_ps
#define WIDE_FIRST(x) ((x)[0])
#endif

static void* wide(void* arg) {
  WIDE a[CHAINS], s = WIDE_SET(0.999f), t = WIDE_SET(0.001f);
  for (int r = 0; r < CHAINS; r++) a[r] = WIDE_SET(0.001f * r);
  for (long i = 0; i < ROUNDS; i++) {
    for (int r = 0; r < CHAINS; r++) a[r] = WIDE_FMA(a[r], s, t);
    for (int r = 0; r < CHAINS; r++) __asm__ volatile("" : "+v"(a[r]));
  }
  for (int r = 1; r < CHAINS; r++) a[0] += a[r];
  sink[(long)arg] = WIDE_FIRST(a[0]);
  return 0;
}

static void* narrow(void* arg) {
  __m128 a[CHAINS], s = _mm_set1_ps(0.999f), t = _mm_set1_ps(0.001f);
  for (int r = 0; r < CHAINS; r++) a[r] = _mm_set1_ps(0.001f * r);
  for (long i = 0; i < ROUNDS; i++) {
    for (int r = 0; r < CHAINS; r++) a[r] = _mm_fmadd_ps(a[r], s, t);
    for (int r = 0; r < CHAINS; r++) __asm__ volatile("" : "+x"(a[r]));
  }
  for (int r = 1; r < CHAINS; r++) a[0] += a[r];
  sink[(long)arg] = a[0][0];
  return 0;
}

// GFLOP/s of `threads` threads running `body`, best of three.
static double rate(void* (*body)(void*), int lanes, int threads) {
  double best = 0;
  for (int round = 0; round < 3; round++) {
    pthread_t th[64];
    double start = now();
    for (long i = 0; i < threads; i++) pthread_create(&th[i], 0, body, (void*)i);
    for (int i = 0; i < threads; i++) pthread_join(th[i], 0);
    double gflops = 2.0 * CHAINS * ROUNDS * lanes * threads / (now() - start) / 1e9;
    if (gflops > best) best = gflops;
  }
  return best;
}

int main(int argc, char** argv) {
  int threads = argc > 1 ? atoi(argv[1]) : 2;
  if (threads < 1 || threads > 64) threads = 2;
  double w = rate(wide, WIDE_LANES, threads);
  double n = rate(narrow, 4, threads);
  printf("{\"widest\": %.1f, \"lanes\": %d, \"sse128\": %.1f, \"threads\": %d}\n", w, WIDE_LANES, n,
         threads);
  return 0;
}
