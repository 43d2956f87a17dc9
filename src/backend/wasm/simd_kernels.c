// convscope's own WASM SIMD kernels (4 channels per vector): the Winograd
// F(2x2, 3x3), F(4x4, 3x3) and F(6x6, 3x3) input, output and filter transforms, the 2x2
// max-pooling gradient, a transposed im2col for filter gradients, and the
// jobs (run_job) that the main thread and helper threads share. Built
// by scripts/build_wasm.sh into simd_kernels.ts.
//
// These functions run on tfjs's own WASM memory, which they import: they
// must not use any memory of their own (no static data, no stack arrays),
// only the buffers they are handed. build_wasm.sh checks the module for
// data segments and stack-pointer use.
#include <wasm_simd128.h>

typedef float f32;
typedef v128_t v;

#define LD(p) wasm_v128_load(p)
#define ST(p, x) wasm_v128_store(p, x)
#define ADD wasm_f32x4_add
#define SUB wasm_f32x4_sub

// Where item `index` of a [batch, rows, cols] grid (tiles, or output
// positions) sits. Inlined: the module may keep nothing on a stack.
typedef struct {
  int n, y, x;
} GridAt;
static inline __attribute__((always_inline)) GridAt grid_at(int index, int rows, int cols) {
  GridAt g = {index / (cols * rows), (index / cols) % rows, index % cols};
  return g;
}

// V_k[t - first, c] = (B^T d B)_k for tiles t in [first, first + count)
// (numbered over batch, tile rows, tile columns), d being the 4x4 input tile
// at (2ty - padTop, 2tx - padLeft). Pixels outside the input read `zeros`
// (C floats of 0).
static inline __attribute__((always_inline)) void input2(
    int skip, const f32* x, const f32* zeros, int inH, int inW, int C, int padTop,
    int padLeft, int tilesH, int tilesW, int first, int count, f32* v0,
    f32* v1, f32* v2, f32* v3, f32* v4, f32* v5, f32* v6, f32* v7, f32* v8,
    f32* v9, f32* v10, f32* v11, f32* v12, f32* v13, f32* v14, f32* v15) {
  for (int tile = skip; tile < count; tile++) {
    int t = first + tile;
    GridAt g = grid_at(t, tilesH, tilesW);
    int n = g.n, ty = g.y, tx = g.x;
    const f32* p[16];
    for (int i = 0; i < 4; i++) {
      int y = 2 * ty - padTop + i;
      for (int j = 0; j < 4; j++) {
        int xx = 2 * tx - padLeft + j;
        p[4 * i + j] = (y >= 0 && y < inH && xx >= 0 && xx < inW)
                           ? x + ((long)(n * inH + y) * inW + xx) * C
                           : zeros;
      }
    }
    const f32 *p0 = p[0], *p1 = p[1], *p2 = p[2], *p3 = p[3];
    const f32 *p4 = p[4], *p5 = p[5], *p6 = p[6], *p7 = p[7];
    const f32 *p8 = p[8], *p9 = p[9], *p10 = p[10], *p11 = p[11];
    const f32 *p12 = p[12], *p13 = p[13], *p14 = p[14], *p15 = p[15];
    long base = (long)tile * C;
    int c = 0;
    for (; c + 4 <= C; c += 4) {
      v d00 = LD(p0 + c), d01 = LD(p1 + c), d02 = LD(p2 + c), d03 = LD(p3 + c);
      v d10 = LD(p4 + c), d11 = LD(p5 + c), d12 = LD(p6 + c), d13 = LD(p7 + c);
      v d20 = LD(p8 + c), d21 = LD(p9 + c), d22 = LD(p10 + c), d23 = LD(p11 + c);
      v d30 = LD(p12 + c), d31 = LD(p13 + c), d32 = LD(p14 + c), d33 = LD(p15 + c);
      v t00 = SUB(d00, d20), t01 = SUB(d01, d21), t02 = SUB(d02, d22), t03 = SUB(d03, d23);
      v t10 = ADD(d10, d20), t11 = ADD(d11, d21), t12 = ADD(d12, d22), t13 = ADD(d13, d23);
      v t20 = SUB(d20, d10), t21 = SUB(d21, d11), t22 = SUB(d22, d12), t23 = SUB(d23, d13);
      v t30 = SUB(d10, d30), t31 = SUB(d11, d31), t32 = SUB(d12, d32), t33 = SUB(d13, d33);
      long at = base + c;
      ST(v0 + at, SUB(t00, t02)); ST(v1 + at, ADD(t01, t02));
      ST(v2 + at, SUB(t02, t01)); ST(v3 + at, SUB(t01, t03));
      ST(v4 + at, SUB(t10, t12)); ST(v5 + at, ADD(t11, t12));
      ST(v6 + at, SUB(t12, t11)); ST(v7 + at, SUB(t11, t13));
      ST(v8 + at, SUB(t20, t22)); ST(v9 + at, ADD(t21, t22));
      ST(v10 + at, SUB(t22, t21)); ST(v11 + at, SUB(t21, t23));
      ST(v12 + at, SUB(t30, t32)); ST(v13 + at, ADD(t31, t32));
      ST(v14 + at, SUB(t32, t31)); ST(v15 + at, SUB(t31, t33));
    }
    for (; c < C; c++) {
      f32 d00 = p0[c], d01 = p1[c], d02 = p2[c], d03 = p3[c];
      f32 d10 = p4[c], d11 = p5[c], d12 = p6[c], d13 = p7[c];
      f32 d20 = p8[c], d21 = p9[c], d22 = p10[c], d23 = p11[c];
      f32 d30 = p12[c], d31 = p13[c], d32 = p14[c], d33 = p15[c];
      f32 t00 = d00 - d20, t01 = d01 - d21, t02 = d02 - d22, t03 = d03 - d23;
      f32 t10 = d10 + d20, t11 = d11 + d21, t12 = d12 + d22, t13 = d13 + d23;
      f32 t20 = d20 - d10, t21 = d21 - d11, t22 = d22 - d12, t23 = d23 - d13;
      f32 t30 = d10 - d30, t31 = d11 - d31, t32 = d12 - d32, t33 = d13 - d33;
      long at = base + c;
      v0[at] = t00 - t02; v1[at] = t01 + t02; v2[at] = t02 - t01; v3[at] = t01 - t03;
      v4[at] = t10 - t12; v5[at] = t11 + t12; v6[at] = t12 - t11; v7[at] = t11 - t13;
      v8[at] = t20 - t22; v9[at] = t21 + t22; v10[at] = t22 - t21; v11[at] = t21 - t23;
      v12[at] = t30 - t32; v13[at] = t31 + t32; v14[at] = t32 - t31; v15[at] = t31 - t33;
    }
  }
}

__attribute__((export_name("winograd_input"))) void winograd_input(
    const f32* x, const f32* zeros, int inH, int inW, int C, int padTop,
    int padLeft, int tilesH, int tilesW, int first, int count, f32* v0,
    f32* v1, f32* v2, f32* v3, f32* v4, f32* v5, f32* v6, f32* v7, f32* v8,
    f32* v9, f32* v10, f32* v11, f32* v12, f32* v13, f32* v14, f32* v15) {
  input2(0, x, zeros, inH, inW, C, padTop, padLeft, tilesH, tilesW, first, count, v0, v1, v2, v3,
         v4, v5, v6, v7, v8, v9, v10, v11, v12, v13, v14, v15);
}

// The filter transform U_k = (G g G^T)_k of an HWIO 3x3 filter g, for
// F(2x2, 3x3) (16 positions), F(4x4, 3x3) (36) or F(6x6, 3x3) (64), into
// `u`: one [Ci, Co] matrix per position, `Ci * Co` floats apart, each in the
// batched products' panels of 8 columns (value (ci, co) at ((co / 8) * Ci +
// ci) * 8 + co % 8). Co is a multiple of 8. A training step has new weights
// every time, so this runs once per convolution and step.
static inline __attribute__((always_inline)) void g_rows(int tile, v x0, v x1, v x2, v* o) {
  if (tile == 6) {
    // G's rows for the points 0, 1, -1, 1/2, -1/2, 2, -2 and infinity.
    v s = ADD(x0, x2);
    o[0] = x0;
    o[1] = wasm_f32x4_mul(ADD(s, x1), wasm_f32x4_splat(-2.0f / 9));
    o[2] = wasm_f32x4_mul(SUB(s, x1), wasm_f32x4_splat(-2.0f / 9));
    v e = ADD(wasm_f32x4_mul(x0, wasm_f32x4_splat(1.0f / 90)),
              wasm_f32x4_mul(x2, wasm_f32x4_splat(2.0f / 45)));
    v m = wasm_f32x4_mul(x1, wasm_f32x4_splat(1.0f / 45));
    o[3] = ADD(e, m);
    o[4] = SUB(e, m);
    v e2 = ADD(wasm_f32x4_mul(x0, wasm_f32x4_splat(32.0f / 45)),
               wasm_f32x4_mul(x2, wasm_f32x4_splat(8.0f / 45)));
    v m2 = wasm_f32x4_mul(x1, wasm_f32x4_splat(16.0f / 45));
    o[5] = ADD(e2, m2);
    o[6] = SUB(e2, m2);
    o[7] = x2;
  } else if (tile == 4) {
    // G's rows for the points 0, 1, -1, 2, -2 and infinity.
    v s = ADD(x0, x2);
    v sixth = wasm_f32x4_splat(1.0f / 6);
    o[0] = wasm_f32x4_mul(x0, wasm_f32x4_splat(0.25f));
    o[1] = wasm_f32x4_mul(ADD(s, x1), wasm_f32x4_splat(-1.0f / 6));
    o[2] = wasm_f32x4_mul(SUB(s, x1), wasm_f32x4_splat(-1.0f / 6));
    v e = ADD(wasm_f32x4_mul(x0, wasm_f32x4_splat(1.0f / 24)), wasm_f32x4_mul(x2, sixth));
    v m = wasm_f32x4_mul(x1, wasm_f32x4_splat(1.0f / 12));
    o[3] = ADD(e, m);
    o[4] = SUB(e, m);
    o[5] = x2;
  } else {
    v half = wasm_f32x4_splat(0.5f);
    v s = ADD(x0, x2);
    o[0] = x0;
    o[1] = wasm_f32x4_mul(ADD(s, x1), half);
    o[2] = wasm_f32x4_mul(SUB(s, x1), half);
    o[3] = x2;
  }
}

static inline __attribute__((always_inline)) void filter_block(const f32* g, long plane,
                                                               long from, long to, int tile,
                                                               f32* u) {
  const int n = tile + 2;
  // G g, column by column: three columns of n.
  v c0[8], c1[8], c2[8], out[8];
  g_rows(tile, LD(g + from), LD(g + 3 * plane + from), LD(g + 6 * plane + from), c0);
  g_rows(tile, LD(g + plane + from), LD(g + 4 * plane + from), LD(g + 7 * plane + from), c1);
  g_rows(tile, LD(g + 2 * plane + from), LD(g + 5 * plane + from), LD(g + 8 * plane + from), c2);
  // (G g) G^T: the same along each row.
#pragma clang loop unroll(full)
  for (int a = 0; a < n; a++) {
    g_rows(tile, c0[a], c1[a], c2[a], out);
#pragma clang loop unroll(full)
    for (int b = 0; b < n; b++) ST(u + (a * n + b) * plane + to, out[b]);
  }
}

__attribute__((export_name("winograd_filter"))) void winograd_filter(const f32* g, int Ci, int Co,
                                                                      int tile, f32* u) {
  long plane = (long)Ci * Co;
  for (int ci = 0; ci < Ci; ci++) {
    for (int co = 0; co < Co; co += 4) {
      long from = (long)ci * Co + co;
      long to = ((long)(co >> 3) * Ci + ci) * 8 + (co & 7);
      // One copy per tile size, each with constant sizes: registers only, no stack.
      if (tile == 6) {
        filter_block(g, plane, from, to, 6, u);
      } else if (tile == 4) {
        filter_block(g, plane, from, to, 4, u);
      } else {
        filter_block(g, plane, from, to, 2, u);
      }
    }
  }
}

// The input gradient's filter: out[a, b, co, ci] = g[2 - a, 2 - b, ci, co]
// for an HWIO 3x3 filter g (flipped in space, its channel axes swapped).
__attribute__((export_name("flip_filter"))) void flip_filter(const f32* g, int Ci, int Co,
                                                              f32* out) {
  long plane = (long)Ci * Co;
  for (int tap = 0; tap < 9; tap++) {
    const f32* from = g + (8 - tap) * plane;
    f32* to = out + tap * plane;
    int ci = 0;
    for (; ci + 4 <= Ci; ci += 4) {
      int co = 0;
      for (; co + 4 <= Co; co += 4) {
        // A 4x4 block, transposed in registers.
        v r0 = LD(from + (long)ci * Co + co), r1 = LD(from + (long)(ci + 1) * Co + co);
        v r2 = LD(from + (long)(ci + 2) * Co + co), r3 = LD(from + (long)(ci + 3) * Co + co);
        v t0 = wasm_i32x4_shuffle(r0, r1, 0, 4, 1, 5), t1 = wasm_i32x4_shuffle(r2, r3, 0, 4, 1, 5);
        v t2 = wasm_i32x4_shuffle(r0, r1, 2, 6, 3, 7), t3 = wasm_i32x4_shuffle(r2, r3, 2, 6, 3, 7);
        ST(to + (long)co * Ci + ci, wasm_i32x4_shuffle(t0, t1, 0, 1, 4, 5));
        ST(to + (long)(co + 1) * Ci + ci, wasm_i32x4_shuffle(t0, t1, 2, 3, 6, 7));
        ST(to + (long)(co + 2) * Ci + ci, wasm_i32x4_shuffle(t2, t3, 0, 1, 4, 5));
        ST(to + (long)(co + 3) * Ci + ci, wasm_i32x4_shuffle(t2, t3, 2, 3, 6, 7));
      }
      for (; co < Co; co++) {
        for (int i = ci; i < ci + 4; i++) to[(long)co * Ci + i] = from[(long)i * Co + co];
      }
    }
    for (; ci < Ci; ci++) {
      for (int co = 0; co < Co; co++) {
        __asm__ volatile("" ::: "memory");
        to[(long)co * Ci + ci] = from[(long)ci * Co + co];
      }
    }
  }
}

// y = A^T m A + bias for the 16 products of tiles [first, first + count),
// then max(y, floor) (floor 0 for ReLU, -inf otherwise), into the NHWC
// output; the last row and column of tiles may stick out of it. `bias` is C
// floats (zeros if none).
static inline __attribute__((always_inline)) void output2(
    int skip, const f32* m0, const f32* m1, const f32* m2, const f32* m3, const f32* m4,
    const f32* m5, const f32* m6, const f32* m7, const f32* m8, const f32* m9,
    const f32* m10, const f32* m11, const f32* m12, const f32* m13,
    const f32* m14, const f32* m15, const f32* bias, f32 floor, f32* y,
    int outH, int outW, int C, int tilesH, int tilesW, int first, int count) {
  v vfloor = wasm_f32x4_splat(floor);
  for (int tile = skip; tile < count; tile++) {
    int t = first + tile;
    GridAt g = grid_at(t, tilesH, tilesW);
    int n = g.n, ty = g.y, tx = g.x;
    int yy = 2 * ty;
    int lastRow = yy + 1 >= outH;
    int xx = 2 * tx;
    int lastCol = xx + 1 >= outW;
    f32* q00 = y + ((long)(n * outH + yy) * outW + xx) * C;
    f32* q01 = q00 + C;
    f32* q10 = q00 + (long)outW * C;
    f32* q11 = q10 + C;
    long base = (long)tile * C;
    int c = 0;
    for (; c + 4 <= C; c += 4) {
      long at = base + c;
      v s00 = ADD(ADD(LD(m0 + at), LD(m4 + at)), LD(m8 + at));
      v s01 = ADD(ADD(LD(m1 + at), LD(m5 + at)), LD(m9 + at));
      v s02 = ADD(ADD(LD(m2 + at), LD(m6 + at)), LD(m10 + at));
      v s03 = ADD(ADD(LD(m3 + at), LD(m7 + at)), LD(m11 + at));
      v s10 = SUB(SUB(LD(m4 + at), LD(m8 + at)), LD(m12 + at));
      v s11 = SUB(SUB(LD(m5 + at), LD(m9 + at)), LD(m13 + at));
      v s12 = SUB(SUB(LD(m6 + at), LD(m10 + at)), LD(m14 + at));
      v s13 = SUB(SUB(LD(m7 + at), LD(m11 + at)), LD(m15 + at));
      v b = LD(bias + c);
      ST(q00 + c, wasm_f32x4_pmax(vfloor, ADD(ADD(ADD(s00, s01), s02), b)));
      if (!lastCol) ST(q01 + c, wasm_f32x4_pmax(vfloor, ADD(SUB(SUB(s01, s02), s03), b)));
      if (!lastRow) {
        ST(q10 + c, wasm_f32x4_pmax(vfloor, ADD(ADD(ADD(s10, s11), s12), b)));
        if (!lastCol) ST(q11 + c, wasm_f32x4_pmax(vfloor, ADD(SUB(SUB(s11, s12), s13), b)));
      }
    }
    for (; c < C; c++) {
      long at = base + c;
      f32 s00 = m0[at] + m4[at] + m8[at], s01 = m1[at] + m5[at] + m9[at];
      f32 s02 = m2[at] + m6[at] + m10[at], s03 = m3[at] + m7[at] + m11[at];
      f32 s10 = m4[at] - m8[at] - m12[at], s11 = m5[at] - m9[at] - m13[at];
      f32 s12 = m6[at] - m10[at] - m14[at], s13 = m7[at] - m11[at] - m15[at];
      f32 b = bias[c], r;
      r = s00 + s01 + s02 + b; q00[c] = r > floor ? r : floor;
      if (!lastCol) { r = s01 - s02 - s03 + b; q01[c] = r > floor ? r : floor; }
      if (!lastRow) {
        r = s10 + s11 + s12 + b; q10[c] = r > floor ? r : floor;
        if (!lastCol) { r = s11 - s12 - s13 + b; q11[c] = r > floor ? r : floor; }
      }
    }
  }
}

__attribute__((export_name("winograd_output"))) void winograd_output(
    const f32* m0, const f32* m1, const f32* m2, const f32* m3, const f32* m4,
    const f32* m5, const f32* m6, const f32* m7, const f32* m8, const f32* m9,
    const f32* m10, const f32* m11, const f32* m12, const f32* m13,
    const f32* m14, const f32* m15, const f32* bias, f32 floor, f32* y,
    int outH, int outW, int C, int tilesH, int tilesW, int first, int count) {
  output2(0, m0, m1, m2, m3, m4, m5, m6, m7, m8, m9, m10, m11, m12, m13, m14, m15, bias, floor, y,
          outH, outW, C, tilesH, tilesW, first, count);
}

// ---------------------------------------------------------------------------
// Winograd F(4x4, 3x3) (Lavin & Gray, 2016; interpolation points 0, 1, -1, 2,
// -2, inf): 6x6 input tiles at stride 4, 36 products per tile. The 36
// transformed inputs and products are separate buffers whose addresses the
// caller writes into `table` (36 int32 offsets into the memory).

#define MUL wasm_f32x4_mul
#define K(x) wasm_f32x4_splat(x)

// B^T x for one column (or row) of six: o0..o5.
#define BT6(x0, x1, x2, x3, x4, x5, o0, o1, o2, o3, o4, o5)           \
  do {                                                                 \
    v _a = SUB(x4, x2), _b = SUB(x3, x1);                              \
    o0 = ADD(SUB(MUL(K(4.0f), x0), MUL(K(5.0f), x2)), x4);             \
    o1 = SUB(ADD(x3, x4), MUL(K(4.0f), ADD(x1, x2)));                  \
    o2 = ADD(MUL(K(4.0f), SUB(x1, x2)), SUB(x4, x3));                  \
    o3 = ADD(MUL(K(2.0f), _b), _a);                                    \
    o4 = SUB(_a, MUL(K(2.0f), _b));                                    \
    o5 = ADD(SUB(MUL(K(4.0f), x1), MUL(K(5.0f), x3)), x5);             \
  } while (0)

// A^T m for one column (or row) of six: o0..o3.
#define AT6(m0, m1, m2, m3, m4, m5, o0, o1, o2, o3)                      \
  do {                                                                 \
    v _p = ADD(m1, m2), _q = SUB(m1, m2), _r = ADD(m3, m4), _s = SUB(m3, m4); \
    o0 = ADD(ADD(m0, _p), _r);                                         \
    o1 = ADD(_q, MUL(K(2.0f), _s));                                    \
    o2 = ADD(_p, MUL(K(4.0f), _r));                                    \
    o3 = ADD(ADD(_q, MUL(K(8.0f), _s)), m5);                           \
  } while (0)

#define ROW6(r) r##0, r##1, r##2, r##3, r##4, r##5
// Expands ROW6 before counting arguments.
#define BT6_(...) BT6(__VA_ARGS__)
#define AT6_(...) AT6(__VA_ARGS__)

// V_k[t - first, c] = (B^T d B)_k, d the 6x6 input tile at (4ty - padTop,
// 4tx - padLeft); pixels outside the input read `zeros` (C floats of 0).
// C must be a multiple of 4 (the plan takes F(2x2, 3x3) otherwise).
static inline __attribute__((always_inline)) void input4(
    int skip, const f32* x, const f32* zeros, int inH, int inW, int C, int padTop,
    int padLeft, int tilesH, int tilesW, int first, int count,
    const int* table) {
  for (int tile = skip; tile < count; tile++) {
    int t = first + tile;
    GridAt g = grid_at(t, tilesH, tilesW);
    int n = g.n, ty = g.y, tx = g.x;
    int y0 = 4 * ty - padTop, x0 = 4 * tx - padLeft;
    // Which rows and columns of the tile are inside the input.
    int rowOk[6], colOk[6];
    for (int i = 0; i < 6; i++) {
      rowOk[i] = y0 + i >= 0 && y0 + i < inH;
      colOk[i] = x0 + i >= 0 && x0 + i < inW;
    }
#define P(i, j)                                                             \
  ((rowOk[i] && colOk[j]) ? x + ((long)(n * inH + y0 + (i)) * inW + x0 + (j)) * C \
                          : zeros)
    const f32 *p00 = P(0, 0), *p01 = P(0, 1), *p02 = P(0, 2), *p03 = P(0, 3), *p04 = P(0, 4), *p05 = P(0, 5);
    const f32 *p10 = P(1, 0), *p11 = P(1, 1), *p12 = P(1, 2), *p13 = P(1, 3), *p14 = P(1, 4), *p15 = P(1, 5);
    const f32 *p20 = P(2, 0), *p21 = P(2, 1), *p22 = P(2, 2), *p23 = P(2, 3), *p24 = P(2, 4), *p25 = P(2, 5);
    const f32 *p30 = P(3, 0), *p31 = P(3, 1), *p32 = P(3, 2), *p33 = P(3, 3), *p34 = P(3, 4), *p35 = P(3, 5);
    const f32 *p40 = P(4, 0), *p41 = P(4, 1), *p42 = P(4, 2), *p43 = P(4, 3), *p44 = P(4, 4), *p45 = P(4, 5);
    const f32 *p50 = P(5, 0), *p51 = P(5, 1), *p52 = P(5, 2), *p53 = P(5, 3), *p54 = P(5, 4), *p55 = P(5, 5);
#undef P
    long base = (long)tile * C;
    for (int c = 0; c < C; c += 4) {
      v t00, t01, t02, t03, t04, t05, t10, t11, t12, t13, t14, t15;
      v t20, t21, t22, t23, t24, t25, t30, t31, t32, t33, t34, t35;
      v t40, t41, t42, t43, t44, t45, t50, t51, t52, t53, t54, t55;
      // B^T d, column by column.
#define COL(j)                                                              \
  BT6(LD(p0##j + c), LD(p1##j + c), LD(p2##j + c), LD(p3##j + c),          \
      LD(p4##j + c), LD(p5##j + c), t0##j, t1##j, t2##j, t3##j, t4##j, t5##j)
      COL(0); COL(1); COL(2); COL(3); COL(4); COL(5);
#undef COL
      long at = base + c;
      // (B^T d) B, row by row, straight into the 36 outputs.
#define ROW(i)                                                              \
  do {                                                                      \
    v o0, o1, o2, o3, o4, o5;                                               \
    BT6_(ROW6(t##i), o0, o1, o2, o3, o4, o5);                                \
    ST((f32*)table[6 * i + 0] + at, o0); ST((f32*)table[6 * i + 1] + at, o1); \
    ST((f32*)table[6 * i + 2] + at, o2); ST((f32*)table[6 * i + 3] + at, o3); \
    ST((f32*)table[6 * i + 4] + at, o4); ST((f32*)table[6 * i + 5] + at, o5); \
  } while (0)
      ROW(0); ROW(1); ROW(2); ROW(3); ROW(4); ROW(5);
#undef ROW
    }
  }
}

__attribute__((export_name("winograd4_input"))) void winograd4_input(
    const f32* x, const f32* zeros, int inH, int inW, int C, int padTop,
    int padLeft, int tilesH, int tilesW, int first, int count,
    const int* table) {
  input4(0, x, zeros, inH, inW, C, padTop, padLeft, tilesH, tilesW, first, count, table);
}

// y = A^T m A + bias for the 36 products of tiles [first, first + count),
// then max(y, floor), into the NHWC output; tiles at the bottom and right
// edges may stick out. C must be a multiple of 4.
static inline __attribute__((always_inline)) void output4(
    int skip, const int* table, const f32* bias, f32 floor, f32* y, int outH, int outW,
    int C, int tilesH, int tilesW, int first, int count) {
  v vfloor = wasm_f32x4_splat(floor);
  for (int tile = skip; tile < count; tile++) {
    int t = first + tile;
    GridAt g = grid_at(t, tilesH, tilesW);
    int n = g.n, ty = g.y, tx = g.x;
    int yy = 4 * ty, xx = 4 * tx;
    int rows = outH - yy < 4 ? outH - yy : 4;
    int cols = outW - xx < 4 ? outW - xx : 4;
    f32* q = y + ((long)(n * outH + yy) * outW + xx) * C;
    long rowStride = (long)outW * C;
    long base = (long)tile * C;
    for (int c = 0; c < C; c += 4) {
      long at = base + c;
#define M(k) LD((const f32*)table[k] + at)
      v s00, s01, s02, s03, s04, s05, s10, s11, s12, s13, s14, s15;
      v s20, s21, s22, s23, s24, s25, s30, s31, s32, s33, s34, s35;
      // A^T m, column by column.
#define COL(j) \
  AT6(M(j), M(6 + j), M(12 + j), M(18 + j), M(24 + j), M(30 + j), s0##j, s1##j, s2##j, s3##j)
      COL(0); COL(1); COL(2); COL(3); COL(4); COL(5);
#undef COL
#undef M
      v b = LD(bias + c);
#define OUT(i)                                                                \
  if (i < rows) {                                                             \
    v o0, o1, o2, o3;                                                         \
    AT6_(ROW6(s##i), o0, o1, o2, o3);                                          \
    f32* r = q + i * rowStride + c;                                           \
    ST(r, wasm_f32x4_pmax(vfloor, ADD(o0, b)));                               \
    if (cols > 1) ST(r + C, wasm_f32x4_pmax(vfloor, ADD(o1, b)));             \
    if (cols > 2) ST(r + 2 * C, wasm_f32x4_pmax(vfloor, ADD(o2, b)));         \
    if (cols > 3) ST(r + 3 * C, wasm_f32x4_pmax(vfloor, ADD(o3, b)));         \
  }
      OUT(0) OUT(1) OUT(2) OUT(3)
#undef OUT
    }
  }
}

__attribute__((export_name("winograd4_output"))) void winograd4_output(
    const int* table, const f32* bias, f32 floor, f32* y, int outH, int outW,
    int C, int tilesH, int tilesW, int first, int count) {
  output4(0, table, bias, floor, y, outH, outW, C, tilesH, tilesW, first, count);
}

// ---------------------------------------------------------------------------
// Gradient of a 2x2, stride-2, unpadded max pooling (NHWC): each input value
// gets its window's output gradient if it is the window's maximum, else 0;
// ties go to the first maximum in scan order, as on tfjs's cpu backend. Rows
// and columns past the last full window are left as they are (the caller
// zeroes them).
__attribute__((export_name("max_pool_grad_2x2"))) void max_pool_grad_2x2(
    const f32* x, const f32* dy, f32* dx, int batch, int inH, int inW, int C,
    int outH, int outW) {
  long row = (long)inW * C;
  for (int b = 0; b < batch; b++) {
    for (int oy = 0; oy < outH; oy++) {
      for (int ox = 0; ox < outW; ox++) {
        long p00 = ((long)(b * inH + 2 * oy) * inW + 2 * ox) * C;
        long p01 = p00 + C, p10 = p00 + row, p11 = p10 + C;
        const f32* g = dy + ((long)(b * outH + oy) * outW + ox) * C;
        int c = 0;
        for (; c + 4 <= C; c += 4) {
          v v00 = LD(x + p00 + c), v01 = LD(x + p01 + c);
          v v10 = LD(x + p10 + c), v11 = LD(x + p11 + c);
          v m01 = wasm_f32x4_gt(v01, v00);
          v best = wasm_v128_bitselect(v01, v00, m01);
          v m10 = wasm_f32x4_gt(v10, best);
          best = wasm_v128_bitselect(v10, best, m10);
          v m11 = wasm_f32x4_gt(v11, best);
          v gv = LD(g + c);
          v later = wasm_v128_or(m10, m11);
          ST(dx + p00 + c, wasm_v128_andnot(gv, wasm_v128_or(m01, later)));
          ST(dx + p01 + c, wasm_v128_and(wasm_v128_andnot(gv, later), m01));
          ST(dx + p10 + c, wasm_v128_and(wasm_v128_andnot(gv, m11), m10));
          ST(dx + p11 + c, wasm_v128_and(gv, m11));
        }
        for (; c < C; c++) {
          f32 best = x[p00 + c];
          int at = 0;
          if (x[p01 + c] > best) { best = x[p01 + c]; at = 1; }
          if (x[p10 + c] > best) { best = x[p10 + c]; at = 2; }
          if (x[p11 + c] > best) at = 3;
          f32 gc = g[c];
          dx[p00 + c] = at == 0 ? gc : 0;
          dx[p01 + c] = at == 1 ? gc : 0;
          dx[p10 + c] = at == 2 ? gc : 0;
          dx[p11 + c] = at == 3 ? gc : 0;
        }
      }
    }
  }
}

// ---------------------------------------------------------------------------
// For filter gradients: the transposed im2col of a 3x3, stride-1 convolution's
// input for output positions [first, first + count) (numbered over batch,
// output rows, output columns): row (a * 3 + b) * C + c of `cols`
// ([9C, count]) holds x[n, oy + a - padTop, ox + b - padLeft, c] for each
// position, 0 outside the input. Then dW ([9C, Cout], i.e. HWIO) is
// cols . dy[positions], a product whose long axis is the block's positions.
__attribute__((export_name("im2col_3x3_transposed"))) void im2col_3x3_transposed(
    const f32* x, int inH, int inW, int C, int padTop, int padLeft, int outH,
    int outW, int first, int count, f32* cols) {
  int j = 0;
  while (j < count) {
    int p = first + j;
    GridAt g = grid_at(p, outH, outW);
    int n = g.n, oy = g.y, ox = g.x;
    // Four positions along one output row whose 3x3 windows are all inside
    // the input: 4x4 blocks of (position, channel) are transposed in
    // registers and stored as rows of four positions.
    int inside = C % 4 == 0 && j + 4 <= count && ox + 4 <= outW && oy - padTop >= 0 &&
                 oy - padTop + 2 < inH && ox - padLeft >= 0 && ox + 3 - padLeft + 2 < inW;
    if (inside) {
      for (int a = 0; a < 3; a++) {
        for (int b = 0; b < 3; b++) {
          const f32* from = x + ((long)(n * inH + oy + a - padTop) * inW + ox + b - padLeft) * C;
          f32* to = cols + (long)(a * 3 + b) * C * count + j;
          for (int c = 0; c < C; c += 4) {
            v v0 = LD(from + c), v1 = LD(from + C + c);
            v v2 = LD(from + 2 * C + c), v3 = LD(from + 3 * C + c);
            v t0 = wasm_i32x4_shuffle(v0, v1, 0, 4, 1, 5);
            v t1 = wasm_i32x4_shuffle(v2, v3, 0, 4, 1, 5);
            v t2 = wasm_i32x4_shuffle(v0, v1, 2, 6, 3, 7);
            v t3 = wasm_i32x4_shuffle(v2, v3, 2, 6, 3, 7);
            ST(to + (long)c * count, wasm_i32x4_shuffle(t0, t1, 0, 1, 4, 5));
            ST(to + (long)(c + 1) * count, wasm_i32x4_shuffle(t0, t1, 2, 3, 6, 7));
            ST(to + (long)(c + 2) * count, wasm_i32x4_shuffle(t2, t3, 0, 1, 4, 5));
            ST(to + (long)(c + 3) * count, wasm_i32x4_shuffle(t2, t3, 2, 3, 6, 7));
          }
        }
      }
      j += 4;
      continue;
    }
    for (int a = 0; a < 3; a++) {
      int y = oy + a - padTop;
      for (int b = 0; b < 3; b++) {
        int xx = ox + b - padLeft;
        f32* to = cols + (long)(a * 3 + b) * C * count + j;
        if (y >= 0 && y < inH && xx >= 0 && xx < inW) {
          const f32* from = x + ((long)(n * inH + y) * inW + xx) * C;
          for (int c = 0; c < C; c++) to[(long)c * count] = from[c];
        } else {
          for (int c = 0; c < C; c++) to[(long)c * count] = 0;
        }
      }
    }
    j++;
  }
}

// ---------------------------------------------------------------------------
// Jobs that the main thread and helper threads run together (run_job):
// batched matrix products, and whole Winograd passes (input transform,
// products, output transform). A job is a block of int32 words in tfjs's
// memory that lives as long as the backend:
//   block[0..5]  the claim and done words of up to three phases,
//   block[8..]   the job's arguments (JOB_* below).
// A claim word holds the job's 15-bit generation, the phase's number of
// units (8 bits) and the next unit to hand out (8 bits); a done word the
// generation and the number of units finished. Every thread claims units
// until none are left, so a thread that wakes up late for a job that has
// ended claims nothing; and a thread reads the job's arguments only after a
// successful claim, when the main thread cannot be rewriting them (it waits
// for every claimed unit to finish).
//
// Batched products: C_p = A_p . B_p for p in [0, count): A_p is [M, K]
// row-major at a + p*M*K, C_p is [M, N] row-major at c + p*M*N, and B_p is
// [K, N] stored in panels of 8 columns (panel j holds K rows of 8 floats) at
// b + p*K*N; N is a multiple of 8. Each thread packs A_p's rows into its own
// scratch (ceil(M / 4) * 4 * K floats).
//
// The relaxed build multiplies and adds in one instruction (f32x4.relaxed_madd,
// a fused multiply-add where the CPU has one); the plain build in two.
#ifdef RELAXED
typedef float f32x4_lanes __attribute__((__vector_size__(16)));
#define MADD(a, b, c)                                                                \
  ((v)__builtin_wasm_relaxed_madd_f32x4((f32x4_lanes)(a), (f32x4_lanes)(b), \
                                        (f32x4_lanes)(c)))
#else
#define MADD(a, b, c) ADD(wasm_f32x4_mul(a, b), c)
#endif

// ---------------------------------------------------------------------------
// Winograd F(6x6, 3x3) (interpolation points 0, 1, -1, 1/2, -1/2, 2, -2,
// inf): 8x8 input tiles at stride 6, 64 products per tile, 1.78 multiplies
// per output against F(4x4)'s 2.25. Its float32 rounding is 1.4-2x
// F(4x4)'s (measured against float64 in tests/winograd_test.ts). Only the
// batched passes use it: the table holds the 64 V then the 64 M addresses.

// B^T x for one column (or row) of eight.
static inline __attribute__((always_inline)) void bt8(const v* x, v* o) {
  v k525 = K(5.25f), k425 = K(4.25f);
  o[0] = ADD(SUB(x[0], x[6]), MUL(k525, SUB(x[4], x[2])));
  o[7] = ADD(SUB(x[7], x[1]), MUL(k525, SUB(x[3], x[5])));
  v p = SUB(ADD(x[2], x[6]), MUL(k425, x[4]));
  v q = SUB(ADD(x[1], x[5]), MUL(k425, x[3]));
  o[1] = ADD(p, q);
  o[2] = SUB(p, q);
  v r = ADD(SUB(MUL(K(0.25f), x[2]), MUL(K(1.25f), x[4])), x[6]);
  v s = ADD(SUB(MUL(K(0.5f), x[1]), MUL(K(2.5f), x[3])), MUL(K(2.0f), x[5]));
  o[3] = ADD(r, s);
  o[4] = SUB(r, s);
  v r2 = ADD(SUB(MUL(K(4.0f), x[2]), MUL(K(5.0f), x[4])), x[6]);
  v s2 = ADD(SUB(MUL(K(2.0f), x[1]), MUL(K(2.5f), x[3])), MUL(K(0.5f), x[5]));
  o[5] = ADD(r2, s2);
  o[6] = SUB(r2, s2);
}

// A^T m for one column (or row) of eight: six outputs.
static inline __attribute__((always_inline)) void at8(const v* m, v* o) {
  v a = ADD(m[1], m[2]), b = SUB(m[1], m[2]), c = ADD(m[3], m[4]), d = SUB(m[3], m[4]);
  v e = ADD(m[5], m[6]), f = SUB(m[5], m[6]);
  o[0] = ADD(ADD(m[0], a), ADD(c, e));
  o[1] = ADD(ADD(b, MUL(K(2.0f), d)), MUL(K(0.5f), f));
  o[2] = ADD(ADD(a, MUL(K(4.0f), c)), MUL(K(0.25f), e));
  o[3] = ADD(ADD(b, MUL(K(8.0f), d)), MUL(K(0.125f), f));
  o[4] = ADD(ADD(a, MUL(K(16.0f), c)), MUL(K(0.0625f), e));
  o[5] = ADD(ADD(ADD(b, MUL(K(32.0f), d)), MUL(K(0.03125f), f)), m[7]);
}

// Zeroes `count` floats (a multiple of 4). A plain loop would become a call
// to memset, which a module with no library of its own lacks.
static inline __attribute__((always_inline)) void zero_floats(f32* to, long count) {
  for (long i = 0; i < count; i += 4) {
    __asm__ volatile("" ::: "memory");
    ST(to + i, wasm_f32x4_splat(0));
  }
}

// One group of 4 channels of one tile: (B^T d B) into the 64 outputs at
// `at`, pixel (i, j) at origin + i * rowStride + j * C.
static inline __attribute__((always_inline)) void input6_group(const f32* origin, long rowStride,
                                                               int C, int c, const int* table,
                                                               long at) {
  v t[64], col[8], o[8];
  // B^T d, column by column.
#pragma clang loop unroll(full)
  for (int j = 0; j < 8; j++) {
#pragma clang loop unroll(full)
    for (int i = 0; i < 8; i++) col[i] = LD(origin + i * rowStride + j * C + c);
    bt8(col, o);
#pragma clang loop unroll(full)
    for (int i = 0; i < 8; i++) t[8 * i + j] = o[i];
  }
  // (B^T d) B, row by row, straight into the 64 outputs.
#pragma clang loop unroll(full)
  for (int i = 0; i < 8; i++) {
    bt8(t + 8 * i, o);
#pragma clang loop unroll(full)
    for (int j = 0; j < 8; j++) ST((f32*)table[8 * i + j] + at, o[j]);
  }
}

// V_k[t - first, c] = (B^T d B)_k, d the 8x8 input tile at (6ty - padTop,
// 6tx - padLeft), zero outside the input. C is a multiple of 4. A tile that
// reaches past the input is first copied into `block` (64 * C floats, the
// thread's scratch) with zeros around it.
static inline __attribute__((always_inline)) void input6(
    int skip, const f32* x, int inH, int inW, int C, int padTop, int padLeft, int tilesH,
    int tilesW, int first, int count, const int* table, f32* block) {
  long rowStride = (long)inW * C;
  for (int tile = skip; tile < count; tile++) {
    GridAt g = grid_at(first + tile, tilesH, tilesW);
    int y0 = 6 * g.y - padTop, x0 = 6 * g.x - padLeft;
    long base = (long)tile * C;
    if (y0 >= 0 && x0 >= 0 && y0 + 8 <= inH && x0 + 8 <= inW) {
      const f32* origin = x + ((long)(g.n * inH + y0) * inW + x0) * C;
      for (int c = 0; c < C; c += 4) input6_group(origin, rowStride, C, c, table, base + c);
      continue;
    }
    zero_floats(block, 64L * C);
    int i0 = y0 < 0 ? -y0 : 0, i1 = inH - y0 < 8 ? inH - y0 : 8;
    int j0 = x0 < 0 ? -x0 : 0, j1 = inW - x0 < 8 ? inW - x0 : 8;
    for (int i = i0; i < i1; i++) {
      const f32* from = x + ((long)(g.n * inH + y0 + i) * inW + x0 + j0) * C;
      f32* to = block + ((long)i * 8 + j0) * C;
      for (long k = 0; k < (long)(j1 - j0) * C; k += 4) {
        __asm__ volatile("" ::: "memory"); // (not a memcpy call)
        ST(to + k, LD(from + k));
      }
    }
    for (int c = 0; c < C; c += 4) input6_group(block, 8L * C, C, c, table, base + c);
  }
}

// y = A^T m A + bias for the 64 products of tiles [first, first + count),
// then max(y, floor), into the NHWC output; tiles at the bottom and right
// edges may stick out. C is a multiple of 4.
static inline __attribute__((always_inline)) void output6(
    int skip, const int* table, const f32* bias, f32 floor, f32* y, int outH, int outW,
    int C, int tilesH, int tilesW, int first, int count) {
  v vfloor = wasm_f32x4_splat(floor);
  for (int tile = skip; tile < count; tile++) {
    GridAt g = grid_at(first + tile, tilesH, tilesW);
    int yy = 6 * g.y, xx = 6 * g.x;
    int rows = outH - yy < 6 ? outH - yy : 6;
    int cols = outW - xx < 6 ? outW - xx : 6;
    f32* q = y + ((long)(g.n * outH + yy) * outW + xx) * C;
    long rowStride = (long)outW * C;
    long base = (long)tile * C;
    for (int c = 0; c < C; c += 4) {
      long at = base + c;
      v s[48], col[8], o[6];
      // A^T m, column by column.
#pragma unroll
      for (int j = 0; j < 8; j++) {
#pragma unroll
        for (int i = 0; i < 8; i++) col[i] = LD((const f32*)table[8 * i + j] + at);
        at8(col, o);
#pragma unroll
        for (int r = 0; r < 6; r++) s[8 * r + j] = o[r];
      }
      v b = LD(bias + c);
#pragma unroll
      for (int r = 0; r < 6; r++) {
        if (r < rows) {
          at8(s + 8 * r, o);
          f32* out = q + r * rowStride + c;
#pragma unroll
          for (int k = 0; k < 6; k++) {
            if (k < cols) ST(out + k * C, wasm_f32x4_pmax(vfloor, ADD(o[k], b)));
          }
        }
      }
    }
  }
}

// Rows of A in blocks of four, each block as K groups of its 4 rows' values,
// so that the product's inner loop reads one block with one pointer.
// `to` holds ceil(M / 4) * 4 * K floats.
static inline __attribute__((always_inline)) void pack_rows4(const f32* a, f32* to, int M, int K) {
  int i = 0;
  for (; i + 4 <= M; i += 4) {
    const f32* r0 = a + (long)i * K;
    const f32 *r1 = r0 + K, *r2 = r1 + K, *r3 = r2 + K;
    f32* d = to + (long)i * K;
    int k = 0;
    for (; k + 4 <= K; k += 4) {
      v x0 = LD(r0 + k), x1 = LD(r1 + k), x2 = LD(r2 + k), x3 = LD(r3 + k);
      v t0 = wasm_i32x4_shuffle(x0, x1, 0, 4, 1, 5);
      v t1 = wasm_i32x4_shuffle(x2, x3, 0, 4, 1, 5);
      v t2 = wasm_i32x4_shuffle(x0, x1, 2, 6, 3, 7);
      v t3 = wasm_i32x4_shuffle(x2, x3, 2, 6, 3, 7);
      ST(d + 4 * k, wasm_i32x4_shuffle(t0, t1, 0, 1, 4, 5));
      ST(d + 4 * k + 4, wasm_i32x4_shuffle(t0, t1, 2, 3, 6, 7));
      ST(d + 4 * k + 8, wasm_i32x4_shuffle(t2, t3, 0, 1, 4, 5));
      ST(d + 4 * k + 12, wasm_i32x4_shuffle(t2, t3, 2, 3, 6, 7));
    }
    for (; k < K; k++) {
      d[4 * k] = r0[k], d[4 * k + 1] = r1[k], d[4 * k + 2] = r2[k], d[4 * k + 3] = r3[k];
    }
  }
  // The last M % 4 rows make a block too, padded with zero rows: one row
  // alone would run two chains of dependent multiply-adds, four times slower.
  if (i < M) {
    f32* d = to + (long)i * K;
    for (int k = 0; k < K; k++) {
      for (int r = 0; r < 4; r++) d[4 * k + r] = i + r < M ? a[(long)(i + r) * K + k] : 0;
    }
  }
}

// The inner loop of every matrix product here: s0[r] and s1[r] (a row of 8
// columns, r < 4) += a_r[k * aStep] * b[k * bStep + (0..7)] for k < count,
// a 4-row by 8-column block of multiply-adds in registers. a_r is row r's
// first value; how the rows are laid out is the caller's.
static inline __attribute__((always_inline)) void madd_4x8(const f32* a0, const f32* a1,
                                                           const f32* a2, const f32* a3,
                                                           long aStep, const f32* b, long bStep,
                                                           int count, v* s0, v* s1) {
  for (int k = 0; k < count;
       k++, a0 += aStep, a1 += aStep, a2 += aStep, a3 += aStep, b += bStep) {
    v b0 = LD(b), b1 = LD(b + 4);
    v x0 = wasm_v128_load32_splat(a0), x1 = wasm_v128_load32_splat(a1);
    v x2 = wasm_v128_load32_splat(a2), x3 = wasm_v128_load32_splat(a3);
    s0[0] = MADD(x0, b0, s0[0]), s1[0] = MADD(x0, b1, s1[0]);
    s0[1] = MADD(x1, b0, s0[1]), s1[1] = MADD(x1, b1, s1[1]);
    s0[2] = MADD(x2, b0, s0[2]), s1[2] = MADD(x2, b1, s1[2]);
    s0[3] = MADD(x3, b0, s0[3]), s1[3] = MADD(x3, b1, s1[3]);
  }
}

// Rows [row, row + rows) of C, rows <= 4, times panel j, from the packed
// block of four rows at a0. Two vectors of 8 columns per row stay in
// registers.
static inline __attribute__((always_inline)) void panel_block(const f32* a0, const f32* panel,
                                                              f32* c, int row, int rows, int j,
                                                              int K, int N) {
  v c0[4], c1[4];
  for (int r = 0; r < 4; r++) c0[r] = c1[r] = wasm_f32x4_splat(0);
  madd_4x8(a0, a0 + 1, a0 + 2, a0 + 3, 4, panel, 8, K, c0, c1);
  for (int r = 0; r < 4; r++) {
    if (r < rows) {
      ST(c + (long)(row + r) * N + 8 * j, c0[r]);
      ST(c + (long)(row + r) * N + 8 * j + 4, c1[r]);
    }
  }
}

// C = A . B for A packed by pack_rows4. Each panel of B (K * 32 bytes) stays
// in the L1 cache while every row block of A passes it.
static inline __attribute__((always_inline)) void product_packed(const f32* a, const f32* b, f32* c,
                                                                 int M, int K, int N) {
  for (int j = 0; j < N / 8; j++) {
    const f32* panel = b + (long)j * K * 8;
    for (int row = 0; row < M; row += 4) {
      panel_block(a + (long)row * K, panel, c, row, M - row < 4 ? M - row : 4, j, K, N);
    }
  }
}

// Each job's units are a function of their own, not inlined into run_job:
// V8 compiles and tiers up every function separately, and one function
// holding every kernel (69 KB) took its optimised code longer to arrive and
// made the first runs of a process slower.
#define UNIT __attribute__((noinline))

enum { JOB_KIND = 8, JOB_SCRATCH, JOB_SCRATCH_FLOATS, JOB_ARGS };
enum {
  JOB_PRODUCTS = 1, JOB_WINOGRAD = 2, JOB_CEILING = 3, JOB_FEW_CHANNEL_INPUT_GRADIENT = 4,
  JOB_RELU_GRADIENT = 5, JOB_FEW_CHANNEL_FILTER_GRADIENT = 6, JOB_ROW_DOTS = 7,
  JOB_COLUMN_SUMS = 8, JOB_FEW_CHANNEL_CONVOLUTION = 9, JOB_WINOGRAD_FILTER_GRADIENT = 10,
  JOB_ROW_MAJOR_PRODUCT = 11
};

// The next unit of a phase of job `gen`, or -1 when there is none.
static inline __attribute__((always_inline)) int claim(int* word, int gen) {
  int old = __atomic_load_n(word, __ATOMIC_SEQ_CST);
  for (;;) {
    if ((int)((unsigned)old >> 16) != gen || (old & 0xff) >= ((old >> 8) & 0xff)) return -1;
    if (__atomic_compare_exchange_n(word, &old, old + 1, 0, __ATOMIC_SEQ_CST,
                                    __ATOMIC_SEQ_CST)) {
      return old & 0xff;
    }
  }
}

// Counts a finished unit; the one that finishes the phase wakes the main
// thread if it went to sleep waiting for it (shared memory only).
static inline __attribute__((always_inline)) void finish(int* done, int units) {
  int now = __atomic_add_fetch(done, 1, __ATOMIC_SEQ_CST);
#ifdef __wasm_atomics__
  if ((now & 0xffff) == units) __builtin_wasm_memory_atomic_notify(done, 1u << 30);
#else
  (void)now, (void)units;
#endif
}

// Waits until every unit of a phase is finished (or the job has ended).
static inline __attribute__((always_inline)) void await_phase(int* claimWord, int* done, int gen) {
  int units = (__atomic_load_n(claimWord, __ATOMIC_SEQ_CST) >> 8) & 0xff;
  for (;;) {
    int now = __atomic_load_n(done, __ATOMIC_SEQ_CST);
    if ((int)((unsigned)now >> 16) != gen || (now & 0xffff) >= units) return;
  }
}

static inline __attribute__((always_inline)) f32* thread_scratch(const int* job, int thread) {
  return (f32*)job[JOB_SCRATCH] + (long)thread * job[JOB_SCRATCH_FLOATS];
}

// One product C = A . B, A [M, K] row-major, B in panels (see above), A's
// rows packed into the thread's scratch first.
static UNIT void product_unit(const f32* a, const f32* b, f32* c, int M, int K, int N,
                              f32* scratch) {
  pack_rows4(a, scratch, M, K);
  product_packed(scratch, b, c, M, K, N);
}

// A Winograd pass's arguments (after JOB_ARGS).
enum {
  W_TILE, W_X, W_ZEROS, W_IN_H, W_IN_W, W_IN_C, W_PAD_TOP, W_PAD_LEFT, W_TILES_H, W_TILES_W,
  W_FIRST, W_COUNT, W_V, W_U, W_M, W_BIAS, W_RELU, W_Y, W_OUT_H, W_OUT_W, W_OUT_C, W_UNIT_TILES,
  W_TABLE
};

// Tiles [unit * unitTiles, ...) of the pass's input transform (phase 0) or
// output transform (phase 2). V and M hold their 16, 36 or 64 matrices
// (winogradMatrixFloats apart); the table lists their addresses, V's first,
// then M's.
static UNIT void transform_unit(int phase, int unit, const int* w, f32* scratch) {
  int count = w[W_COUNT], unitTiles = w[W_UNIT_TILES];
  int skip = unit * unitTiles;
  int end = skip + unitTiles < count ? skip + unitTiles : count;
  int tileSize = w[W_TILE];
  int positions = (tileSize + 2) * (tileSize + 2);
  const int* table = (const int*)w[W_TABLE];
  const int* vt = table;
  const int* mt = table + positions;
  const f32* x = (const f32*)w[W_X];
  const f32* zeros = (const f32*)w[W_ZEROS];
  const f32* bias = (const f32*)w[W_BIAS];
  f32 floor = w[W_RELU] ? 0.0f : -__builtin_inff();
  f32* y = (f32*)w[W_Y];
  if (phase == 0 && tileSize == 6) {
    input6(skip, x, w[W_IN_H], w[W_IN_W], w[W_IN_C], w[W_PAD_TOP], w[W_PAD_LEFT], w[W_TILES_H],
           w[W_TILES_W], w[W_FIRST], end, vt, scratch);
  } else if (phase == 0 && tileSize == 4) {
    input4(skip, x, zeros, w[W_IN_H], w[W_IN_W], w[W_IN_C], w[W_PAD_TOP], w[W_PAD_LEFT],
           w[W_TILES_H], w[W_TILES_W], w[W_FIRST], end, vt);
  } else if (phase == 0) {
#define T(k) (f32*)vt[k]
    input2(skip, x, zeros, w[W_IN_H], w[W_IN_W], w[W_IN_C], w[W_PAD_TOP], w[W_PAD_LEFT],
           w[W_TILES_H], w[W_TILES_W], w[W_FIRST], end, T(0), T(1), T(2), T(3), T(4), T(5), T(6),
           T(7), T(8), T(9), T(10), T(11), T(12), T(13), T(14), T(15));
#undef T
  } else if (tileSize == 6) {
    output6(skip, mt, bias, floor, y, w[W_OUT_H], w[W_OUT_W], w[W_OUT_C], w[W_TILES_H],
            w[W_TILES_W], w[W_FIRST], end);
  } else if (tileSize == 4) {
    output4(skip, mt, bias, floor, y, w[W_OUT_H], w[W_OUT_W], w[W_OUT_C], w[W_TILES_H],
            w[W_TILES_W], w[W_FIRST], end);
  } else {
#define T(k) (const f32*)mt[k]
    output2(skip, T(0), T(1), T(2), T(3), T(4), T(5), T(6), T(7), T(8), T(9), T(10), T(11),
            T(12), T(13), T(14), T(15), bias, floor, y, w[W_OUT_H], w[W_OUT_W], w[W_OUT_C],
            w[W_TILES_H], w[W_TILES_W], w[W_FIRST], end);
#undef T
  }
}

// The benchmark's ceiling: one unit is args[0] rounds of 12 independent
// vector multiply-adds (4 lanes each) with no memory traffic, as many chains
// as it takes to keep the multiply-add units busy; what it returns is
// written to the thread's scratch so that the work cannot be dropped.
static UNIT void ceiling_unit(const int* args, f32* scratch) {
  v acc[12];
  for (int r = 0; r < 12; r++) acc[r] = wasm_f32x4_splat(0.001f * r);
  v scale = wasm_f32x4_splat(0.999f), step = wasm_f32x4_splat(0.001f);
  for (int i = 0; i < args[0]; i++) {
    for (int r = 0; r < 12; r++) acc[r] = MADD(acc[r], scale, step);
  }
  v sum = acc[0];
  for (int r = 1; r < 12; r++) sum = ADD(sum, acc[r]);
  ST(scratch, sum);
}

// The input gradient of a 3x3, stride-1 convolution whose input has at most
// 4 channels (a first layer reading a picture), with Co output channels, Co
// a multiple of 4 (after JOB_ARGS): dx[n, iy, ix, ci] is the sum over the
// taps (a, b) and co of dy[n, iy - a + padTop, ix - b + padLeft, co] *
// w[a, b, ci, co], w in HWIO. As a convolution (the flipped filter), this
// has 3 output channels, a shape XNNPACK runs at a fraction of its speed;
// here each pixel's Ci sums run along dy's channels, 4 at a time, and one
// unit is `unitRows` rows of dx.
enum {
  I_DY, I_W, I_DX, I_IN_H, I_IN_W, I_IN_C, I_OUT_H, I_OUT_W, I_OUT_C, I_PAD_TOP, I_PAD_LEFT,
  I_ROWS, I_UNIT_ROWS
};

static inline __attribute__((always_inline)) f32 lane_sum(v x) {
  return wasm_f32x4_extract_lane(x, 0) + wasm_f32x4_extract_lane(x, 1) +
         wasm_f32x4_extract_lane(x, 2) + wasm_f32x4_extract_lane(x, 3);
}

static UNIT void few_channel_input_gradient_unit(int unit, const int* g) {
  const f32* dy = (const f32*)g[I_DY];
  const f32* w = (const f32*)g[I_W];
  f32* dx = (f32*)g[I_DX];
  int inH = g[I_IN_H], inW = g[I_IN_W], Ci = g[I_IN_C];
  int outH = g[I_OUT_H], outW = g[I_OUT_W], Co = g[I_OUT_C];
  int first = unit * g[I_UNIT_ROWS];
  int end = first + g[I_UNIT_ROWS] < g[I_ROWS] ? first + g[I_UNIT_ROWS] : g[I_ROWS];
  for (int row = first; row < end; row++) {
    int n = row / inH, iy = row % inH;
    for (int ix = 0; ix < inW; ix++) {
      v acc0 = wasm_f32x4_splat(0), acc1 = acc0, acc2 = acc0, acc3 = acc0;
      for (int a = 0; a < 3; a++) {
        int oy = iy - a + g[I_PAD_TOP];
        if (oy < 0 || oy >= outH) continue;
        for (int b = 0; b < 3; b++) {
          int ox = ix - b + g[I_PAD_LEFT];
          if (ox < 0 || ox >= outW) continue;
          const f32* d = dy + ((long)(n * outH + oy) * outW + ox) * Co;
          const f32* wt = w + (long)(a * 3 + b) * Ci * Co;
          for (int co = 0; co < Co; co += 4) {
            v dv = LD(d + co);
            acc0 = MADD(dv, LD(wt + co), acc0);
            if (Ci > 1) acc1 = MADD(dv, LD(wt + Co + co), acc1);
            if (Ci > 2) acc2 = MADD(dv, LD(wt + 2 * Co + co), acc2);
            if (Ci > 3) acc3 = MADD(dv, LD(wt + 3 * Co + co), acc3);
          }
        }
      }
      f32* out = dx + ((long)(n * inH + iy) * inW + ix) * Ci;
      out[0] = lane_sum(acc0);
      if (Ci > 1) out[1] = lane_sum(acc1);
      if (Ci > 2) out[2] = lane_sum(acc2);
      if (Ci > 3) out[3] = lane_sum(acc3);
    }
  }
}

// The filter gradient of a 3x3, stride-1 convolution whose input has at most
// 4 channels (a first layer reading a picture), with Co output channels, Co a
// multiple of 8 (after JOB_ARGS): dw[a, b, ci, co] is the sum over n, oy, ox
// of x[n, oy + a - padTop, ox + b - padLeft, ci] * dy[n, oy, ox, co], w in
// HWIO. As the convolution of x with dy as its filter (XNNPACK's route) its
// output is 3x3 and it runs at 5 GFLOP/s; as im2col products it has 27 rows.
// Here phase 0's units are `unitRows` rows of dy each, summed into the unit's
// own 9 * Ci * Co floats of `parts`; phase 1 adds the units' sums up, one tap
// per unit.
enum {
  F_X, F_DY, F_PARTS, F_DW, F_IN_H, F_IN_W, F_IN_C, F_OUT_H, F_OUT_W, F_OUT_C, F_PAD_TOP,
  F_PAD_LEFT, F_ROWS, F_UNIT_ROWS, F_UNITS
};

static UNIT void few_channel_filter_gradient_unit(int unit, const int* g) {
  const f32* x = (const f32*)g[F_X];
  const f32* dy = (const f32*)g[F_DY];
  int inH = g[F_IN_H], inW = g[F_IN_W], Ci = g[F_IN_C];
  int outH = g[F_OUT_H], outW = g[F_OUT_W], Co = g[F_OUT_C];
  int padTop = g[F_PAD_TOP], padLeft = g[F_PAD_LEFT];
  long tapFloats = (long)Ci * Co;
  f32* sums = (f32*)g[F_PARTS] + (long)unit * 9 * tapFloats;
  zero_floats(sums, 9 * tapFloats);
  int first = unit * g[F_UNIT_ROWS];
  int end = first + g[F_UNIT_ROWS] < g[F_ROWS] ? first + g[F_UNIT_ROWS] : g[F_ROWS];
  for (int row = first; row < end; row++) {
    int n = row / outH, oy = row % outH;
    const f32* dyRow = dy + (long)row * outW * Co;
    for (int a = 0; a < 3; a++) {
      int iy = oy + a - padTop;
      if (iy < 0 || iy >= inH) continue;
      const f32* xRow = x + (long)(n * inH + iy) * inW * Ci;
      for (int b = 0; b < 3; b++) {
        // The output columns whose input column ox + b - padLeft exists.
        int start = padLeft - b > 0 ? padLeft - b : 0;
        int stop = inW + padLeft - b < outW ? inW + padLeft - b : outW;
        f32* tap = sums + (a * 3 + b) * tapFloats;
        for (int co = 0; co < Co; co += 8) {
          v s00 = LD(tap + co), s01 = LD(tap + co + 4);
          v s10 = s00, s11 = s01, s20 = s00, s21 = s01, s30 = s00, s31 = s01;
          if (Ci > 1) s10 = LD(tap + Co + co), s11 = LD(tap + Co + co + 4);
          if (Ci > 2) s20 = LD(tap + 2 * Co + co), s21 = LD(tap + 2 * Co + co + 4);
          if (Ci > 3) s30 = LD(tap + 3 * Co + co), s31 = LD(tap + 3 * Co + co + 4);
          const f32* xp = xRow + (long)(start + b - padLeft) * Ci;
          const f32* d = dyRow + (long)start * Co + co;
          for (int ox = start; ox < stop; ox++, xp += Ci, d += Co) {
            v d0 = LD(d), d1 = LD(d + 4);
            v x0 = wasm_v128_load32_splat(xp);
            s00 = MADD(x0, d0, s00), s01 = MADD(x0, d1, s01);
            if (Ci > 1) {
              v x1 = wasm_v128_load32_splat(xp + 1);
              s10 = MADD(x1, d0, s10), s11 = MADD(x1, d1, s11);
            }
            if (Ci > 2) {
              v x2 = wasm_v128_load32_splat(xp + 2);
              s20 = MADD(x2, d0, s20), s21 = MADD(x2, d1, s21);
            }
            if (Ci > 3) {
              v x3 = wasm_v128_load32_splat(xp + 3);
              s30 = MADD(x3, d0, s30), s31 = MADD(x3, d1, s31);
            }
          }
          ST(tap + co, s00), ST(tap + co + 4, s01);
          if (Ci > 1) ST(tap + Co + co, s10), ST(tap + Co + co + 4, s11);
          if (Ci > 2) ST(tap + 2 * Co + co, s20), ST(tap + 2 * Co + co + 4, s21);
          if (Ci > 3) ST(tap + 3 * Co + co, s30), ST(tap + 3 * Co + co + 4, s31);
        }
      }
    }
  }
}

// Phase 1: tap `tap` of dw, the sum of every phase-0 unit's sums for it.
static UNIT void few_channel_filter_sum_unit(int tap, const int* g) {
  long tapFloats = (long)g[F_IN_C] * g[F_OUT_C];
  const f32* parts = (const f32*)g[F_PARTS] + tap * tapFloats;
  f32* dw = (f32*)g[F_DW] + tap * tapFloats;
  for (long i = 0; i < tapFloats; i += 4) {
    v s = LD(parts + i);
    for (int u = 1; u < g[F_UNITS]; u++) s = ADD(s, LD(parts + u * 9 * tapFloats + i));
    ST(dw + i, s);
  }
}

// Row dots (after JOB_ARGS): y[r] = sum over k of w[r, k] * x[k] for the
// `rows` rows of a row-major [rows, K] matrix, `unitRows` rows per unit: a
// matrix times one vector, as a dense layer's input gradient at batch 1
// (dx = dy . W^T, W [inputs, units] row-major). XNNPACK's product pads the
// single column to 8 and computes all 8; this reads W once, which is all
// the time it needs (VGG16's fc1 is 411 MB).
enum { D_W, D_X, D_Y, D_ROWS, D_K, D_UNIT_ROWS };

static inline __attribute__((always_inline)) f32 row_dot(const f32* w, const f32* x, int K) {
  v s0 = wasm_f32x4_splat(0), s1 = s0, s2 = s0, s3 = s0;
  int k = 0;
  for (; k + 16 <= K; k += 16) {
    s0 = MADD(LD(w + k), LD(x + k), s0);
    s1 = MADD(LD(w + k + 4), LD(x + k + 4), s1);
    s2 = MADD(LD(w + k + 8), LD(x + k + 8), s2);
    s3 = MADD(LD(w + k + 12), LD(x + k + 12), s3);
  }
  for (; k + 4 <= K; k += 4) s0 = MADD(LD(w + k), LD(x + k), s0);
  f32 sum = lane_sum(ADD(ADD(s0, s1), ADD(s2, s3)));
  for (; k < K; k++) sum += w[k] * x[k];
  return sum;
}

static UNIT void row_dots_unit(int unit, const int* d) {
  const f32* w = (const f32*)d[D_W];
  const f32* x = (const f32*)d[D_X];
  f32* y = (f32*)d[D_Y];
  int K = d[D_K];
  int first = unit * d[D_UNIT_ROWS];
  int end = first + d[D_UNIT_ROWS] < d[D_ROWS] ? first + d[D_UNIT_ROWS] : d[D_ROWS];
  for (int r = first; r < end; r++) {
    // (Without the barrier clang turns the K = 0 case into a memset call.)
    __asm__ volatile("" ::: "memory");
    y[r] = row_dot(w + (long)r * K, x, K);
  }
}

// Column sums (after JOB_ARGS): out[c] = sum over r of x[r, c] for a
// row-major [rows, C] matrix, the bias gradient of a layer (every axis but
// the channels summed). Phase 0's units sum `unitRows` rows each into their
// own C floats of `parts`; phase 1 (one unit) adds those up.
enum { S_X, S_PARTS, S_OUT, S_ROWS, S_C, S_UNIT_ROWS, S_UNITS };

static UNIT void column_sums_unit(int phase, int unit, const int* s) {
  int C = s[S_C];
  if (phase == 1) {
    const f32* parts = (const f32*)s[S_PARTS];
    f32* out = (f32*)s[S_OUT];
    for (int c = 0; c < C; c++) {
      __asm__ volatile("" ::: "memory");
      double sum = 0;
      for (int u = 0; u < s[S_UNITS]; u++) sum += parts[(long)u * C + c];
      out[c] = (f32)sum;
    }
    return;
  }
  const f32* x = (const f32*)s[S_X];
  f32* sums = (f32*)s[S_PARTS] + (long)unit * C;
  int first = unit * s[S_UNIT_ROWS];
  int end = first + s[S_UNIT_ROWS] < s[S_ROWS] ? first + s[S_UNIT_ROWS] : s[S_ROWS];
  // Rows are added in blocks of 64, each block's sum then to the unit's: the
  // rounding error grows with 64 + rows / 64 additions, not with rows.
  int c = 0;
  for (; c + 8 <= C; c += 8) {
    __asm__ volatile("" ::: "memory"); // (no memset call for an empty unit)
    v t0 = wasm_f32x4_splat(0), t1 = t0;
    for (int block = first; block < end; block += 64) {
      int stop = block + 64 < end ? block + 64 : end;
      v a0 = wasm_f32x4_splat(0), a1 = a0;
      for (int r = block; r < stop; r++) {
        a0 = ADD(a0, LD(x + (long)r * C + c));
        a1 = ADD(a1, LD(x + (long)r * C + c + 4));
      }
      t0 = ADD(t0, a0), t1 = ADD(t1, a1);
    }
    ST(sums + c, t0), ST(sums + c + 4, t1);
  }
  for (; c < C; c++) {
    __asm__ volatile("" ::: "memory");
    f32 total = 0;
    for (int block = first; block < end; block += 64) {
      int stop = block + 64 < end ? block + 64 : end;
      f32 sum = 0;
      for (int r = block; r < stop; r++) sum += x[(long)r * C + c];
      total += sum;
    }
    sums[c] = total;
  }
}

// A 3x3, stride-1 convolution whose input has at most 4 channels (a first
// layer reading a picture), with bias and optionally ReLU, Co a multiple of 8
// (after JOB_ARGS): y[n, oy, ox, co] = bias[co] + the sum over the taps (a,
// b) and ci of x[n, oy + a - padTop, ox + b - padLeft, ci] * w[a, b, ci, co],
// w in HWIO. Its 27 multiply-adds per output value are too few for
// Winograd's transforms and too few for XNNPACK's direct kernel to keep its
// registers busy (47 GFLOP/s here). One unit is `unitRows` rows of y; a block
// is 4 pixels times 8 output channels, 8 vectors in registers.
enum {
  V_X, V_W, V_BIAS, V_Y, V_IN_H, V_IN_W, V_IN_C, V_OUT_H, V_OUT_W, V_OUT_C, V_PAD_TOP, V_PAD_LEFT,
  V_RELU, V_ROWS, V_UNIT_ROWS
};

// Pixels per block of the first-layer convolution, times 8 output channels.
// 4 pixels keep 8 multiply-add chains and their operands within the
// registers V8 leaves free; 5 and 6 pixels (10 and 12 chains) measured
// 1.4-1.5x slower here ([16, 150, 150, 3] -> 32: 10.0-10.4 against 6.9 ms).
#define FEW_PIXELS 4

static UNIT void few_channel_convolution_unit(int unit, const int* g) {
  const f32* x = (const f32*)g[V_X];
  const f32* w = (const f32*)g[V_W];
  const f32* bias = (const f32*)g[V_BIAS];
  f32* y = (f32*)g[V_Y];
  int inH = g[V_IN_H], inW = g[V_IN_W], Ci = g[V_IN_C];
  int outH = g[V_OUT_H], outW = g[V_OUT_W], Co = g[V_OUT_C];
  int padTop = g[V_PAD_TOP], padLeft = g[V_PAD_LEFT];
  v floor = g[V_RELU] ? wasm_f32x4_splat(0) : wasm_f32x4_splat(-__builtin_inff());
  int first = unit * g[V_UNIT_ROWS];
  int end = first + g[V_UNIT_ROWS] < g[V_ROWS] ? first + g[V_UNIT_ROWS] : g[V_ROWS];
  for (int row = first; row < end; row++) {
    int n = row / outH, oy = row % outH;
    f32* yRow = y + (long)row * outW * Co;
    for (int co = 0; co < Co; co += 8) {
      v b0 = bias ? LD(bias + co) : wasm_f32x4_splat(0);
      v b1 = bias ? LD(bias + co + 4) : wasm_f32x4_splat(0);
      for (int ox = 0; ox < outW; ox += FEW_PIXELS) {
        v s0[FEW_PIXELS], s1[FEW_PIXELS];
#pragma clang loop unroll(full)
        for (int p = 0; p < FEW_PIXELS; p++) s0[p] = b0, s1[p] = b1;
        // Whole blocks away from the left and right edges need no checks.
        int inside = ox + FEW_PIXELS <= outW && ox - padLeft >= 0 &&
                     ox + FEW_PIXELS - 1 + 2 - padLeft < inW;
        for (int a = 0; a < 3; a++) {
          int iy = oy + a - padTop;
          if (iy < 0 || iy >= inH) continue;
          const f32* xRow = x + (long)(n * inH + iy) * inW * Ci;
          for (int b = 0; b < 3; b++) {
            int ix = ox + b - padLeft;
            const f32* wt = w + (long)(a * 3 + b) * Ci * Co + co;
            if (inside) {
              const f32* xp = xRow + (long)ix * Ci;
              for (int ci = 0; ci < Ci; ci++) {
                v w0 = LD(wt + ci * Co), w1 = LD(wt + ci * Co + 4);
#pragma clang loop unroll(full)
                for (int p = 0; p < FEW_PIXELS; p++) {
                  v xv = wasm_v128_load32_splat(xp + p * Ci + ci);
                  s0[p] = MADD(xv, w0, s0[p]), s1[p] = MADD(xv, w1, s1[p]);
                }
              }
            } else {
              // An edge block: each pixel's input column is checked (zero padding).
              for (int ci = 0; ci < Ci; ci++) {
                v w0 = LD(wt + ci * Co), w1 = LD(wt + ci * Co + 4);
#pragma clang loop unroll(full)
                for (int p = 0; p < FEW_PIXELS; p++) {
                  if (ox + p < outW && ix + p >= 0 && ix + p < inW) {
                    v xv = wasm_v128_load32_splat(xRow + (long)(ix + p) * Ci + ci);
                    s0[p] = MADD(xv, w0, s0[p]), s1[p] = MADD(xv, w1, s1[p]);
                  }
                }
              }
            }
          }
        }
        f32* out = yRow + (long)ox * Co + co;
#pragma clang loop unroll(full)
        for (int p = 0; p < FEW_PIXELS; p++) {
          if (ox + p < outW) {
            ST(out + p * Co, wasm_f32x4_pmax(s0[p], floor));
            ST(out + p * Co + 4, wasm_f32x4_pmax(s1[p], floor));
          }
        }
      }
    }
  }
}

// ReLU's gradient from its output (after JOB_ARGS): out = y > 0 ? dy : 0 for
// `count` values, `unitValues` per unit (a multiple of 4).
static UNIT void relu_gradient_unit(int unit, const int* r) {
  const f32* dy = (const f32*)r[0];
  const f32* y = (const f32*)r[1];
  f32* out = (f32*)r[2];
  long first = (long)unit * r[4];
  long end = first + r[4] < r[3] ? first + r[4] : r[3];
  long i = first;
  v zero = wasm_f32x4_splat(0);
  // A NaN in y passes on as NaN, as dy * step(y) would.
  for (; i + 4 <= end; i += 4) {
    v yv = LD(y + i);
    v kept = wasm_v128_and(LD(dy + i), wasm_f32x4_gt(yv, zero));
    ST(out + i, wasm_v128_or(kept, wasm_v128_and(yv, wasm_f32x4_ne(yv, yv))));
  }
  for (; i < end; i++) out[i] = y[i] > 0 ? dy[i] : y[i] != y[i] ? y[i] : 0;
}

// The filter gradient of a 3x3, stride-1 convolution in the Winograd domain
// (after JOB_ARGS). Per 2x2 tile of dy, dW's 3x3 taps are a correlation of
// the 4x4 input tile d with the 2x2 gradient tile g, F(3x3, 2x2), which the
// F(2x2, 3x3) matrices compute transposed:
//   dW = G^T [ (A g A^T) (.) (B^T d B) ] G,
// 16 multiplies per channel pair and tile instead of 36. Summed over tiles,
// the 16 elementwise products become 16 matrix products [Ci, tiles] .
// [tiles, Co] whose inner axis is every tile of the batch.
// Phase 0 zeroes each thread's 16 [Ci, Co] sums; phase 1's units are ranges
// of tiles, transformed `chunk` tiles at a time into the thread's scratch
// (V: 16 [chunk, Ci], U: 16 [chunk, Co], small enough for the L1 and L2
// caches) and multiplied into the thread's sums; phase 2 adds the threads'
// sums and applies G^T . G, one input channel per unit. Ci is a multiple of
// 4, Co of 8.
enum {
  G_X, G_DY, G_ZEROS, G_DW, G_IN_H, G_IN_W, G_IN_C, G_OUT_H, G_OUT_W, G_OUT_C, G_PAD_TOP,
  G_PAD_LEFT, G_TILES_H, G_TILES_W, G_TILES, G_UNIT_TILES, G_CHUNK, G_THREADS, G_UNIT_CHANNELS
};

// U_k[tile, c] = (A g A^T)_k for tiles [first, first + count), g the 2x2
// tile of dy at (2ty, 2tx); positions past dy's edge read `zeros`. The 16
// matrices are `stride` floats apart.
static inline __attribute__((always_inline)) void gradient2(const f32* dy, const f32* zeros,
                                                            int outH, int outW, int C,
                                                            int tilesH, int tilesW, int first,
                                                            int count, f32* u, long stride) {
  for (int tile = 0; tile < count; tile++) {
    GridAt g = grid_at(first + tile, tilesH, tilesW);
    int y = 2 * g.y, x = 2 * g.x;
    const f32* row0 = dy + ((long)(g.n * outH + y) * outW + x) * C;
    const f32* q00 = row0;
    const f32* q01 = x + 1 < outW ? row0 + C : zeros;
    const f32* q10 = y + 1 < outH ? row0 + (long)outW * C : zeros;
    const f32* q11 = y + 1 < outH && x + 1 < outW ? row0 + (long)(outW + 1) * C : zeros;
    f32* o = u + (long)tile * C;
    for (int c = 0; c < C; c += 4) {
      v g00 = LD(q00 + c), g01 = LD(q01 + c), g10 = LD(q10 + c), g11 = LD(q11 + c);
      // A along the rows: (g0, g0 + g1, g0 - g1, -g1); then along the columns.
      v r00 = g00, r01 = g01;
      v r10 = ADD(g00, g10), r11 = ADD(g01, g11);
      v r20 = SUB(g00, g10), r21 = SUB(g01, g11);
      v r30 = wasm_f32x4_neg(g10), r31 = wasm_f32x4_neg(g11);
#define COLUMNS(i, a, b)                                        \
  ST(o + (4 * i) * stride + c, a);                              \
  ST(o + (4 * i + 1) * stride + c, ADD(a, b));                  \
  ST(o + (4 * i + 2) * stride + c, SUB(a, b));                  \
  ST(o + (4 * i + 3) * stride + c, wasm_f32x4_neg(b));
      COLUMNS(0, r00, r01)
      COLUMNS(1, r10, r11)
      COLUMNS(2, r20, r21)
      COLUMNS(3, r30, r31)
#undef COLUMNS
    }
  }
}

// sums[ci, co] += sum over k < count of vt[k, ci] * ut[k, co] for one of the
// 16 positions: blocks of 4 input by 8 output channels in registers.
static inline __attribute__((always_inline)) void gradient_products(const f32* vt, const f32* ut,
                                                                    f32* sums, int count, int Ci,
                                                                    int Co) {
  for (int ci = 0; ci < Ci; ci += 4) {
    for (int co = 0; co < Co; co += 8) {
      f32* s = sums + (long)ci * Co + co;
      v s0[4], s1[4];
      for (int r = 0; r < 4; r++) s0[r] = LD(s + r * Co), s1[r] = LD(s + r * Co + 4);
      const f32* a = vt + ci;
      madd_4x8(a, a + 1, a + 2, a + 3, Ci, ut + co, Co, count, s0, s1);
      for (int r = 0; r < 4; r++) ST(s + r * Co, s0[r]), ST(s + r * Co + 4, s1[r]);
    }
  }
}

static UNIT void winograd_filter_gradient_unit(
    int phase, int unit, const int* job, const int* g, f32* scratch) {
  int Ci = g[G_IN_C], Co = g[G_OUT_C];
  long sumFloats = 16L * Ci * Co;
  if (phase == 0) {
    zero_floats((f32*)job[JOB_SCRATCH] + (long)unit * job[JOB_SCRATCH_FLOATS], sumFloats);
    return;
  }
  if (phase == 2) {
    // Input channels [unit * unitChannels, ...): M_k[ci, co] summed over the
    // threads, then G^T M G.
    long threadFloats = job[JOB_SCRATCH_FLOATS];
    long tap = (long)Ci * Co;
    v half = wasm_f32x4_splat(0.5f);
    int ciFirst = unit * g[G_UNIT_CHANNELS];
    int ciEnd = ciFirst + g[G_UNIT_CHANNELS] < Ci ? ciFirst + g[G_UNIT_CHANNELS] : Ci;
    for (int ci = ciFirst; ci < ciEnd; ci++) {
      const f32* base = (const f32*)job[JOB_SCRATCH] + (long)ci * Co;
      f32* dw = (f32*)g[G_DW] + (long)ci * Co;
      for (int co = 0; co < Co; co += 4) {
        v m[16];
        for (int k = 0; k < 16; k++) {
          const f32* at = base + k * tap + co;
          v s = LD(at);
          for (int t = 1; t < g[G_THREADS]; t++) s = ADD(s, LD(at + t * threadFloats));
          m[k] = s;
        }
        // G^T along the rows: (m0 + (m1 + m2)/2, (m1 - m2)/2, (m1 + m2)/2 + m3).
        v r[12];
        for (int j = 0; j < 4; j++) {
          v p = wasm_f32x4_mul(ADD(m[4 + j], m[8 + j]), half);
          r[j] = ADD(m[j], p);
          r[4 + j] = wasm_f32x4_mul(SUB(m[4 + j], m[8 + j]), half);
          r[8 + j] = ADD(p, m[12 + j]);
        }
        for (int i = 0; i < 3; i++) {
          v p = wasm_f32x4_mul(ADD(r[4 * i + 1], r[4 * i + 2]), half);
          ST(dw + (3 * i) * tap + co, ADD(r[4 * i], p));
          ST(dw + (3 * i + 1) * tap + co, wasm_f32x4_mul(SUB(r[4 * i + 1], r[4 * i + 2]), half));
          ST(dw + (3 * i + 2) * tap + co, ADD(p, r[4 * i + 3]));
        }
      }
    }
    return;
  }
  int chunk = g[G_CHUNK];
  f32* sums = scratch;
  f32* vs = scratch + sumFloats;
  f32* us = vs + 16L * chunk * Ci;
  int first = unit * g[G_UNIT_TILES];
  int end = first + g[G_UNIT_TILES] < g[G_TILES] ? first + g[G_UNIT_TILES] : g[G_TILES];
  for (int at = first; at < end; at += chunk) {
    int count = end - at < chunk ? end - at : chunk;
    long vStride = (long)chunk * Ci, uStride = (long)chunk * Co;
    input2(0, (const f32*)g[G_X], (const f32*)g[G_ZEROS], g[G_IN_H], g[G_IN_W], Ci,
           g[G_PAD_TOP], g[G_PAD_LEFT], g[G_TILES_H], g[G_TILES_W], at, count, vs,
           vs + vStride, vs + 2 * vStride, vs + 3 * vStride, vs + 4 * vStride, vs + 5 * vStride,
           vs + 6 * vStride, vs + 7 * vStride, vs + 8 * vStride, vs + 9 * vStride,
           vs + 10 * vStride, vs + 11 * vStride, vs + 12 * vStride, vs + 13 * vStride,
           vs + 14 * vStride, vs + 15 * vStride);
    gradient2((const f32*)g[G_DY], (const f32*)g[G_ZEROS], g[G_OUT_H], g[G_OUT_W], Co,
              g[G_TILES_H], g[G_TILES_W], at, count, us, uStride);
    for (int k = 0; k < 16; k++) {
      gradient_products(vs + k * vStride, us + k * uStride, sums + k * (long)Ci * Co, count, Ci,
                        Co);
    }
  }
}

// C = A . B for row-major A [M, K], B [K, N] and C [M, N], N a multiple of
// 8 (after JOB_ARGS): a dense layer's forward pass in training, whose
// weights B change at every step, so that XNNPACK packs all of them anew
// each time (12.8 MB for the book convnet's dense_1). Here B is read in
// place: a unit is `unitPanels` panels of 8 columns; each panel goes down K
// in chunks of 256 rows (8 KB of B, in the L1 cache) while every block of 4
// rows of A passes it, the 4x8 block's sums in registers between chunks in C.
enum { R_A, R_B, R_C, R_M, R_K, R_N, R_UNIT_PANELS };
#define ROW_MAJOR_CHUNK 256

static UNIT void row_major_product_unit(int unit, const int* r) {
  const f32* A = (const f32*)r[R_A];
  const f32* B = (const f32*)r[R_B];
  f32* C = (f32*)r[R_C];
  int M = r[R_M], K = r[R_K], N = r[R_N];
  int panels = N / 8;
  int first = unit * r[R_UNIT_PANELS];
  int end = first + r[R_UNIT_PANELS] < panels ? first + r[R_UNIT_PANELS] : panels;
  for (int panel = first; panel < end; panel++) {
    int n = 8 * panel;
    for (int k0 = 0; k0 < K; k0 += ROW_MAJOR_CHUNK) {
      int k1 = k0 + ROW_MAJOR_CHUNK < K ? k0 + ROW_MAJOR_CHUNK : K;
      for (int m = 0; m < M; m += 4) {
        int rows = M - m < 4 ? M - m : 4;
        // Rows past M read row m again and are not stored.
        const f32* a0 = A + (long)m * K;
        const f32* a1 = rows > 1 ? a0 + K : a0;
        const f32* a2 = rows > 2 ? a0 + 2L * K : a0;
        const f32* a3 = rows > 3 ? a0 + 3L * K : a0;
        f32* c0 = C + (long)m * N + n;
        v s0[4], s1[4];
        for (int r = 0; r < 4; r++) {
          int kept = r < rows && k0 > 0;
          s0[r] = kept ? LD(c0 + r * N) : wasm_f32x4_splat(0);
          s1[r] = kept ? LD(c0 + r * N + 4) : wasm_f32x4_splat(0);
        }
        madd_4x8(a0 + k0, a1 + k0, a2 + k0, a3 + k0, 1, B + (long)k0 * N + n, N, k1 - k0, s0,
                 s1);
        for (int r = 0; r < 4; r++) {
          if (r < rows) ST(c0 + r * N, s0[r]), ST(c0 + r * N + 4, s1[r]);
        }
      }
    }
  }
}

// Runs units of job `gen` on `block` until every phase is done; `thread`
// picks the scratch area (0 is the main thread).
__attribute__((export_name("run_job"))) void run_job(int* block, int thread, int gen) {
  const int* args = block + JOB_ARGS;
  for (int phase = 0; phase < 3; phase++) {
    int* claimWord = block + 2 * phase;
    int* done = claimWord + 1;
    int units = (__atomic_load_n(claimWord, __ATOMIC_SEQ_CST) >> 8) & 0xff;
    for (int unit; (unit = claim(claimWord, gen)) >= 0; finish(done, units)) {
      int kind = block[JOB_KIND];
      if (kind == JOB_PRODUCTS) {
        // Product `unit` of the batch: the matrices lie end to end.
        int M = args[4], K = args[5], N = args[6];
        product_unit((const f32*)args[0] + (long)unit * M * K,
                     (const f32*)args[1] + (long)unit * K * N, (f32*)args[2] + (long)unit * M * N,
                     M, K, N, thread_scratch(block, thread));
      } else if (kind == JOB_CEILING) {
        ceiling_unit(args, thread_scratch(block, thread));
      } else if (kind == JOB_FEW_CHANNEL_INPUT_GRADIENT) {
        few_channel_input_gradient_unit(unit, args);
      } else if (kind == JOB_RELU_GRADIENT) {
        relu_gradient_unit(unit, args);
      } else if (kind == JOB_FEW_CHANNEL_CONVOLUTION) {
        few_channel_convolution_unit(unit, args);
      } else if (kind == JOB_COLUMN_SUMS) {
        column_sums_unit(phase, unit, args);
      } else if (kind == JOB_ROW_DOTS) {
        row_dots_unit(unit, args);
      } else if (kind == JOB_ROW_MAJOR_PRODUCT) {
        row_major_product_unit(unit, args);
      } else if (kind == JOB_WINOGRAD_FILTER_GRADIENT) {
        winograd_filter_gradient_unit(phase, unit, block, args, thread_scratch(block, thread));
      } else if (kind == JOB_FEW_CHANNEL_FILTER_GRADIENT) {
        if (phase == 0) {
          few_channel_filter_gradient_unit(unit, args);
        } else {
          few_channel_filter_sum_unit(unit, args);
        }

      } else if (phase == 1) {
        // A Winograd pass's products: V_k [count, inC] . U_k [inC, outC],
        // V_k and M_k where the table says (winogradMatrixFloats apart).
        const int* table = (const int*)args[W_TABLE];
        int positions = (args[W_TILE] + 2) * (args[W_TILE] + 2);
        const f32* u = (const f32*)args[W_U] + (long)unit * args[W_IN_C] * args[W_OUT_C];
        product_unit((const f32*)table[unit], u, (f32*)table[positions + unit], args[W_COUNT],
                     args[W_IN_C], args[W_OUT_C], thread_scratch(block, thread));
      } else {
        transform_unit(phase, unit, args, thread_scratch(block, thread));
      }
    }
    await_phase(claimWord, done, gen);
  }
}
