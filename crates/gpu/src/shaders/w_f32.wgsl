fn w_at(row: u32, c: u32) -> f32 {
    return bitcast<f32>(w[row + c]);
}
