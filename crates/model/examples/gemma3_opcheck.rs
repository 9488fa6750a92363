//! Debugging aid: each operation of the Gemma 3 forward pass checked on its
//! own against llama.cpp, to find the one that computes differently.
//!
//! ```sh
//! python3 tools/llama_dump.py MODEL /tmp/dump "prompt text"
//! cargo run --release -p model --example gemma3_opcheck -- MODEL /tmp/dump
//! ```
//!
//! `tools/llama_dump.py` saves llama.cpp's intermediate tensors for one
//! prompt fed in one batch. Every op here is fed llama.cpp's own input
//! (teacher forcing), with sobre's kernels and sobre's arithmetic for a
//! batch of that size, so a nonzero line is that op's own difference, not
//! drift from the layers before. Printed per op: the largest
//! `max|ours - llama.cpp| / max|llama.cpp|` over the layers, and how many
//! layers differ at all. Sobre aims at 0 everywhere: on Gemma 3 any
//! last-bit difference grows to ~1e-2 of the logits.

use std::collections::BTreeMap;
use std::path::PathBuf;

use half::f16;
use kernels::matmul::{matmul, Matrix};
use kernels::ops;
use model::Model;

struct Dump(PathBuf);

impl Dump {
    fn get(&self, name: &str) -> Vec<f32> {
        let p = self.0.join(format!("{name}.f32"));
        let b = std::fs::read(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()));
        b.chunks_exact(4)
            .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
            .collect()
    }
}

fn rel(got: &[f32], want: &[f32]) -> f32 {
    assert_eq!(got.len(), want.len());
    let max_ref = want.iter().fold(0.0f32, |m, v| m.max(v.abs()));
    got.iter()
        .zip(want)
        .fold(0.0f32, |m, (a, b)| m.max((a - b).abs()))
        / max_ref
}

fn mm(w: &Matrix<'_>, x: &[f32], n: usize) -> Vec<f32> {
    let mut out = vec![0.0f32; n * w.rows];
    let mut act = vec![0u8; w.act_bytes(n)];
    matmul(w, x, n, &mut out, &mut act, 1);
    out
}

fn norm(x: &[f32], width: usize, w: &[f32], eps: f32) -> Vec<f32> {
    let mut y = x.to_vec();
    y.chunks_exact_mut(width).for_each(|r| ops::rms_norm(r, w, eps));
    y
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().collect();
    if args.len() != 3 {
        return Err("usage: gemma3_opcheck MODEL DUMP_DIR".into());
    }
    let file = gguf::GgufFile::open(&args[1])?;
    let model = Model::load(&file)?;
    let (c, w) = (model.config(), model.weights());
    let d = Dump(PathBuf::from(&args[2]));
    let ids: Vec<u32> = std::fs::read(d.0.join("prompt_ids.u32"))?
        .chunks_exact(4)
        .map(|b| u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
        .collect();
    let n = ids.len();
    let (e, hd, hv) = (c.n_embd, c.head_dim_k, c.head_dim_v);
    let group = c.n_head / c.n_head_kv;
    // Lanes of llama.cpp's f16 attention sums: tinyBLAS for a batch,
    // `ggml_vec_dot_f16` for one token.
    let lanes = if n > 1 { 16 } else { 64 };
    let dot = if n > 1 { ops::dot } else { ops::dot_f16_vec };
    let mut worst: BTreeMap<&str, (f32, usize)> = BTreeMap::new();
    let mut note = |op: &'static str, r: f32| {
        let v = worst.entry(op).or_insert((0.0, 0));
        v.0 = v.0.max(r);
        v.1 += usize::from(r != 0.0);
    };

    let mut x = vec![0.0f32; n * e];
    for (row, &t) in x.chunks_exact_mut(e).zip(&ids) {
        w.token_embd.dequantize_row(t as usize, row);
        row.iter_mut().for_each(|v| *v *= (e as f32).sqrt());
    }
    note("embed", rel(&x, &d.get("inp_scaled")));
    for (il, l) in w.layers.iter().enumerate() {
        let g = |s: &str| d.get(&format!("{s}-{il}"));
        // A name given to several nodes keeps every version: "Qcur-0" is
        // the projection, "Qcur-0#2" the roped queries.
        let gv = |s: &str, v: usize| d.get(&format!("{s}-{il}#{v}"));
        let x = if il == 0 {
            d.get("inp_scaled")
        } else {
            d.get(&format!("l_out-{}", il - 1))
        };
        let an = g("attn_norm");
        note("attn_norm", rel(&norm(&x, e, &l.attn_norm, c.rms_eps), &an));
        note("wq", rel(&mm(&l.wq, &an, n), &g("Qcur")));
        note("wk", rel(&mm(&l.wk, &an, n), &g("Kcur")));
        note("wv", rel(&mm(&l.wv, &an, n), &g("Vcur")));
        let (qn, kn) = (l.q_norm.as_ref().unwrap(), l.k_norm.as_ref().unwrap());
        note(
            "q_norm",
            rel(&norm(&g("Qcur"), hd, qn, c.rms_eps), &g("Qcur_normed")),
        );
        note(
            "k_norm",
            rel(&norm(&g("Kcur"), hd, kn, c.rms_eps), &g("Kcur_normed")),
        );
        let (base, fs) = c.rope_for_layer(il);
        for (name, src, roped, heads) in [
            ("rope q", "Qcur_normed", "Qcur", c.n_head),
            ("rope k", "Kcur_normed", "Kcur", c.n_head_kv),
        ] {
            let mut v = g(src);
            for (i, head) in v.chunks_exact_mut(hd).enumerate() {
                ops::rope(head, i / heads, c.n_rot, base, fs, c.rope_style);
            }
            note(name, rel(&v, &gv(roped, 2)));
        }
        // Attention on llama.cpp's roped, scaled queries and cached keys
        // and values (f16), cell by cell as llama.cpp sums them.
        let (q, k, v) = (gv("Qcur", 2), gv("Kcur", 2), g("Vcur"));
        let (kq_ref, sm_ref, kqv_ref) = (g("kq"), g("kq_soft_max"), g("kqv"));
        let n_kv = kq_ref.len() / (n * c.n_head);
        let round = |x: f32| f16::from_f32(x).to_f32();
        let (mut kq, mut kq_want, mut sm, mut sm_want, mut kqv) = (vec![], vec![], vec![], vec![], vec![]);
        for h in 0..c.n_head {
            let kvh = h / group;
            for t in 0..n {
                let row = (h * n + t) * n_kv;
                let qh: Vec<f32> = q[(t * c.n_head + h) * hd..][..hd]
                    .iter()
                    .map(|&x| round(x * c.attn_scale))
                    .collect();
                let scores: Vec<f32> = (0..=t)
                    .map(|j| {
                        let kr: Vec<f32> = k[(j * c.n_head_kv + kvh) * hd..][..hd]
                            .iter()
                            .map(|&x| round(x))
                            .collect();
                        dot(&qh, &kr)
                    })
                    .collect();
                kq.extend_from_slice(&scores);
                kq_want.extend_from_slice(&kq_ref[row..row + t + 1]);
                // Softmax and outputs from llama.cpp's own scores and
                // probabilities, so each is checked alone.
                let mut p = kq_ref[row..row + t + 1].to_vec();
                ops::softmax_from(&mut p, 0);
                sm.extend_from_slice(&p);
                sm_want.extend_from_slice(&sm_ref[row..row + t + 1]);
                let mut acc = vec![0.0f32; lanes * hv];
                for (j, &p) in sm_ref[row..row + t + 1].iter().enumerate() {
                    let vr: Vec<f32> = v[j * c.v_dim() + kvh * hv..][..hv]
                        .iter()
                        .map(|&x| round(x))
                        .collect();
                    ops::axpy(&mut acc[(j % lanes) * hv..][..hv], round(p), &vr);
                }
                ops::reduce_lanes(&mut acc, lanes, hv);
                kqv.extend_from_slice(&acc[..hv]);
            }
        }
        note("kq", rel(&kq, &kq_want));
        note("softmax", rel(&sm, &sm_want));
        note("kqv", rel(&kqv, &kqv_ref[..kqv.len()]));
        let pan = l.post_attn_norm.as_ref().unwrap();
        note(
            "wo + post_norm",
            rel(
                &norm(&mm(&l.wo, &g("kqv_out"), n), e, pan, c.rms_eps),
                &g("attn_post_norm"),
            ),
        );
        let fin = g("ffn_norm");
        note(
            "ffn_norm",
            rel(&norm(&g("sa_out"), e, &l.ffn_norm, c.rms_eps), &fin),
        );
        note("ffn_gate", rel(&mm(&l.ffn_gate, &fin, n), &g("ffn_gate")));
        note("ffn_up", rel(&mm(&l.ffn_up, &fin, n), &g("ffn_up")));
        let mut geglu = g("ffn_gate");
        ops::gated(&mut geglu, &g("ffn_up"), ops::gelu);
        note("geglu", rel(&geglu, &g("ffn_geglu")));
        note(
            "ffn_down",
            rel(&mm(&l.ffn_down, &g("ffn_geglu"), n), &g("ffn_out")),
        );
        let pfn = l.post_ffn_norm.as_ref().unwrap();
        note(
            "ffn_post_norm",
            rel(&norm(&g("ffn_out"), e, pfn, c.rms_eps), &g("ffn_post_norm")),
        );
    }
    let last = d.get(&format!("l_out-{}", c.n_layer - 1));
    let rn = d.get("result_norm");
    note(
        "output_norm",
        rel(&norm(&last, e, &w.output_norm, c.rms_eps), &rn),
    );
    let logits = d.get("result_output");
    let lr = (n - 1) * c.n_vocab..n * c.n_vocab;
    note(
        "output",
        rel(&mm(&w.output, &rn[(n - 1) * e..], 1), &logits[lr.clone()]),
    );
    for (op, (r, k)) in &worst {
        println!("{op:<16} max rel {r:9.2e}  in {k} layer(s)");
    }

    // The whole pass, free-running: sobre's logits of the last token.
    let mut cache = model::KvCache::new(c, n);
    let mut scratch = model.scratch(n, n, 1, 2);
    let got = model.eval(&ids, 0, &mut cache, &mut scratch)?;
    println!(
        "Model::eval logits vs llama.cpp: rel {:.2e}",
        rel(got, &logits[lr])
    );
    Ok(())
}
