// A libFuzzer-compatible driver for the normal (gcc, uninstrumented) build: `X_smoke SECONDS CORPUS...`
// runs LLVMFuzzerTestOneInput on every seed file, then on random mutations of them (bit flips, byte
// insertions and deletions, truncations, splices, repeated chunks) until SECONDS have passed. ctest
// runs it for every fuzz target (fuzz.smoke.*), so a target that stops building, or crashes or hangs
// at once, fails `make test` without clang; the real fuzzing is `make fuzz` (libFuzzer, ASan, UBSan).
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <random>
#include <sstream>
#include <string>
#include <vector>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size);

namespace {

std::string read_all(const std::filesystem::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

void run(const std::string& input) {
  LLVMFuzzerTestOneInput(reinterpret_cast<const uint8_t*>(input.data()), input.size());
}

std::string mutate(std::string s, const std::vector<std::string>& seeds, std::mt19937_64& rng) {
  const auto pick = [&](size_t n) { return n == 0 ? size_t{0} : static_cast<size_t>(rng() % n); };
  const int edits = 1 + static_cast<int>(rng() % 4);
  for (int e = 0; e < edits; ++e) {
    switch (rng() % 7) {
      case 0:
        if (!s.empty()) s[pick(s.size())] ^= static_cast<char>(1u << (rng() % 8));
        break;
      case 1: s.insert(pick(s.size() + 1), 1, static_cast<char>(rng())); break;
      case 2:
        if (!s.empty()) s.erase(pick(s.size()), 1 + pick(8));
        break;
      case 3: s.resize(pick(s.size() + 1)); break;
      case 4: {
        const std::string& other = seeds[pick(seeds.size())];
        const size_t at = pick(other.size() + 1);
        s = s.substr(0, pick(s.size() + 1)) + other.substr(at);
        break;
      }
      case 5: {  // repeat a chunk: deep nesting, long runs
        if (s.empty()) break;
        const size_t at = pick(s.size()), n = 1 + pick(std::min<size_t>(8, s.size() - at));
        const std::string chunk = s.substr(at, n);
        std::string rep;
        for (size_t i = 0, k = 1 + pick(200); i < k; ++i) rep += chunk;
        s.insert(at, rep);
        break;
      }
      default: {  // an interesting byte or number
        static const char* const tokens[] = {"[", "{", "\"", "0", "-1", "4294967295", "1e308", "null",
                                             "\xff", "\x00", "..", "/", "\\u0000"};
        const std::string t = tokens[pick(sizeof tokens / sizeof *tokens)];
        s.insert(pick(s.size() + 1), t);
      }
    }
  }
  return s.size() > (1u << 20) ? s.substr(0, 1u << 20) : s;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 3) {
    std::fprintf(stderr, "usage: %s SECONDS CORPUS_DIR_OR_FILE...\n", argv[0]);
    return 2;
  }
  const double seconds = std::atof(argv[1]);
  std::vector<std::string> seeds;
  for (int i = 2; i < argc; ++i) {
    const std::filesystem::path p = argv[i];
    if (std::filesystem::is_directory(p)) {
      for (const auto& e : std::filesystem::directory_iterator(p))
        if (e.is_regular_file()) seeds.push_back(read_all(e.path()));
    } else if (std::filesystem::is_regular_file(p)) {
      seeds.push_back(read_all(p));
    }
  }
  if (seeds.empty()) seeds.emplace_back();
  for (const auto& s : seeds) run(s);
  run("");
  std::mt19937_64 rng(20261206);
  const auto end = std::chrono::steady_clock::now() + std::chrono::duration<double>(seconds);
  uint64_t runs = seeds.size() + 1;
  while (std::chrono::steady_clock::now() < end) {
    run(mutate(seeds[static_cast<size_t>(rng() % seeds.size())], seeds, rng));
    ++runs;
  }
  std::printf("%s: %llu inputs (%zu seeds) without a crash\n", argv[0], static_cast<unsigned long long>(runs),
              seeds.size());
  return 0;
}
