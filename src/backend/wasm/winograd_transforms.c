// Winograd F(2x2, 3x3) input and output transforms, WASM SIMD (4 channels
// per vector). Built by scripts/build_wasm.sh into winograd_transforms.ts.
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
    int tx = t % tilesW;
    int ty = (t / tilesW) % tilesH;
    int n = t / (tilesW * tilesH);
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
    int tx = t % tilesW;
    int ty = (t / tilesW) % tilesH;
    int n = t / (tilesW * tilesH);
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
