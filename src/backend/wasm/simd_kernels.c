// convscope's own WASM SIMD kernels (4 channels per vector): the Winograd
// F(2x2, 3x3) and F(4x4, 3x3) input and output transforms, the 2x2
// max-pooling gradient, and a transposed im2col for filter gradients. Built
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
__attribute__((export_name("winograd_input"))) void winograd_input(
    const f32* x, const f32* zeros, int inH, int inW, int C, int padTop,
    int padLeft, int tilesH, int tilesW, int first, int count, f32* v0,
    f32* v1, f32* v2, f32* v3, f32* v4, f32* v5, f32* v6, f32* v7, f32* v8,
    f32* v9, f32* v10, f32* v11, f32* v12, f32* v13, f32* v14, f32* v15) {
  for (int tile = 0; tile < count; tile++) {
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

// y = A^T m A + bias for the 16 products of tiles [first, first + count),
// then max(y, floor) (floor 0 for ReLU, -inf otherwise), into the NHWC
// output; the last row and column of tiles may stick out of it. `bias` is C
// floats (zeros if none).
__attribute__((export_name("winograd_output"))) void winograd_output(
    const f32* m0, const f32* m1, const f32* m2, const f32* m3, const f32* m4,
    const f32* m5, const f32* m6, const f32* m7, const f32* m8, const f32* m9,
    const f32* m10, const f32* m11, const f32* m12, const f32* m13,
    const f32* m14, const f32* m15, const f32* bias, f32 floor, f32* y,
    int outH, int outW, int C, int tilesH, int tilesW, int first, int count) {
  v vfloor = wasm_f32x4_splat(floor);
  for (int tile = 0; tile < count; tile++) {
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
__attribute__((export_name("winograd4_input"))) void winograd4_input(
    const f32* x, const f32* zeros, int inH, int inW, int C, int padTop,
    int padLeft, int tilesH, int tilesW, int first, int count,
    const int* table) {
  for (int tile = 0; tile < count; tile++) {
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

// y = A^T m A + bias for the 36 products of tiles [first, first + count),
// then max(y, floor), into the NHWC output; tiles at the bottom and right
// edges may stick out. C must be a multiple of 4.
__attribute__((export_name("winograd4_output"))) void winograd4_output(
    const int* table, const f32* bias, f32 floor, f32* y, int outH, int outW,
    int C, int tilesH, int tilesW, int first, int count) {
  v vfloor = wasm_f32x4_splat(floor);
  for (int tile = 0; tile < count; tile++) {
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
