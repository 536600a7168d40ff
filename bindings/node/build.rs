// Linker flags napi-rs needs (on macOS, Node symbols resolved at load).
fn main() {
    napi_build::setup();
}
