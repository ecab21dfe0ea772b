// weave run's configuration: the printed default lists every key with the value it takes when left
// out; values of the wrong type, sections written as values and bad --set arguments are errors that
// name the key and where it came from; --set takes bare strings.
#include <gtest/gtest.h>

#include <regex>

#include "run/pipeline.hpp"
#include "weave/error.hpp"

namespace weave {
namespace {

/// The UserError message of parse_run_config(text, "my.toml", overrides), "" if it parses.
std::string error_of(const std::string& text, const std::vector<std::string>& overrides = {}) {
  try {
    run::parse_run_config(text, "my.toml", overrides);
  } catch (const UserError& e) {
    return e.what();
  }
  return "";
}

TEST(RunConfig, DefaultConfigListsEveryKeyWithTheValueItTakesWhenLeftOut) {
  const std::string text = run::default_config_toml();
  for (const std::string& dotted : run::known_config_keys()) {
    const std::string key = dotted.substr(dotted.find('.') + 1);
    const std::regex line("(^|\\n)(# )?" + key + " = ");
    EXPECT_TRUE(std::regex_search(text, line)) << dotted << " is not in the default configuration";
  }
  // Parsing the printed text gives what an empty configuration gives: no printed value differs
  // from the one used when the key is missing.
  const auto printed = run::parse_run_config(text, "default", {}).to_json();
  const auto empty = run::parse_run_config("", "empty", {}).to_json();
  EXPECT_EQ(printed.dump(1), empty.dump(1));
}

/// Every fragment occurs in the error message of parsing text with overrides.
void expect_error(const std::string& text, const std::vector<std::string>& overrides,
                  const std::vector<std::string>& fragments) {
  const std::string message = error_of(text, overrides);
  ASSERT_FALSE(message.empty()) << "accepted: " << text;
  for (const auto& f : fragments) EXPECT_NE(message.find(f), std::string::npos) << message << " lacks " << f;
}

TEST(RunConfig, WrongTypesNameTheKeyAndWhereItCameFrom) {
  expect_error("out_dir = 5\n", {}, {"out_dir must be a string", "my.toml, line 1"});
  expect_error("[knn]\nk = 10\nmethod = 3\n", {}, {"knn.method must be a string", "my.toml, line 3"});
  expect_error("[knn]\nk = 2.5\n", {}, {"knn.k must be an integer, not a number"});
  expect_error("[knn]\nk = 99999999999\n", {}, {"knn.k = 99999999999 is out of range"});
  expect_error("[synth]\nseed = -1\n", {}, {"synth.seed = -1 is out of range"});
  expect_error("[synth]\ntopic_spread = \"wide\"\n", {}, {"synth.topic_spread must be a number"});
  expect_error("[synth]\ntopic_spread = true\n", {}, {"synth.topic_spread must be a number, not a boolean"});
  expect_error("[pack]\ncontext_length = [512, \"x\"]\n", {}, {"pack.context_length must be an integer or a list"});
  expect_error("[order]\ncolour = 1\n", {}, {"unknown key order.colour", "my.toml, line 2"});
  expect_error("colour = 1\n", {}, {"unknown section or key colour"});
  // A number where a number is expected may be written as an integer.
  EXPECT_EQ(error_of("[synth]\ntopic_spread = 1\n"), "");
}

TEST(RunConfig, SectionsWrittenAsValuesAreErrors) {
  // Before: ignored with exit 0, and corpus = "x.h5" silently ran on the synthetic demo corpus.
  expect_error("corpus = \"x.h5\"\n", {}, {"corpus is a section, not a value", "[corpus] then path = \"corpus.h5\""});
  expect_error("knn = 5\n", {}, {"knn is a section, not a value", "my.toml, line 1"});
  expect_error("", {"knn=5"}, {"--set knn=5: knn is a section", "--set knn.k=10"});
}

TEST(RunConfig, SetTakesBareStringsAndItsErrorsNameTheArgument) {
  const auto c = run::parse_run_config("", "my.toml", {"corpus.path=x.h5", "knn.backend=cpu", "out_dir=out"});
  EXPECT_EQ(c.knn.corpus.path, "x.h5");
  EXPECT_FALSE(c.synthesize);
  EXPECT_EQ(c.knn.backend, KnnBackend::kCpu);
  EXPECT_EQ(c.knn.out, "out/knn.h5");
  const auto quoted = run::parse_run_config("", "my.toml", {"corpus.path=\"a b.h5\"", "pack.context_length=[512, 1024]"});
  EXPECT_EQ(quoted.knn.corpus.path, "a b.h5");
  EXPECT_EQ(quoted.pack.context_lengths, (std::vector<std::int64_t>{512, 1024}));
  // A typo in a number becomes a string, which the key's type then refuses, naming --set, not the file.
  expect_error("", {"knn.k=2O"}, {"knn.k must be an integer, not a string (--set knn.k=2O)"});
  const std::string message = error_of("", {"knn.k=2O"});
  EXPECT_EQ(message.find("my.toml"), std::string::npos) << message;
  expect_error("", {"knn.k"}, {"--set knn.k: expected SECTION.KEY=VALUE"});
  expect_error("", {"knn.colour=1"}, {"unknown key knn.colour", "--set knn.colour=1"});
  // A closed set of values: the names listed, the value and where it came from.
  expect_error("[knn]\nmethod = \"fast\"\n", {}, {"knn.method must be exact, ivf or auto (got fast)", "my.toml, line 2"});
  expect_error("", {"pack.tail=pd"}, {"pack.tail must be drop or pad (got pd) (--set pack.tail=pd)"});
  EXPECT_EQ(run::parse_run_config("", "my.toml", {"knn.gpu_gemm=cublaslt"}).knn.gpu_gemm, GpuGemm::kCublasLt);
  expect_error("out_dir = \"x\"\n", {"out_dir.k=1"}, {"--set out_dir.k=1: out_dir is not a section"});
}

}  // namespace
}  // namespace weave

namespace weave {
namespace {

TEST(KnnConfig, AutoPicksExactUpToTheBackendsLimitAndIvfAbove) {
  KnnConfig c;
  EXPECT_EQ(c.method, KnnMethod::kAuto);
  EXPECT_EQ(c.resolved_method(KnnConfig::kExactMaxDocs), "exact");
  EXPECT_EQ(c.resolved_method(KnnConfig::kExactMaxDocs + 1), "ivf");
  c.backend = KnnBackend::kCuda;
  EXPECT_EQ(c.resolved_method(KnnConfig::kExactMaxDocs + 1), "exact");
  EXPECT_EQ(c.resolved_method(KnnConfig::kExactMaxDocsGpu + 1), "ivf");
  c.method = KnnMethod::kIvf;
  EXPECT_EQ(c.resolved_method(100), "ivf");
  // nlist: the power of two nearest sqrt(N), at least 8 rows per cluster; the sample 64 per cluster.
  EXPECT_EQ(c.resolved_nlist(1'000'000), 1024);
  EXPECT_EQ(c.resolved_nlist(3000), 64);
  EXPECT_EQ(c.resolved_nlist(40), 5);
  EXPECT_EQ(c.resolved_train_sample(1'000'000), 65536);
  EXPECT_EQ(c.resolved_train_sample(3000), 3000);
  c.nlist = 7;
  EXPECT_EQ(c.resolved_nlist(1'000'000), 7);
  EXPECT_THROW(c.validate_for(6), UserError);  // more clusters than documents
}

}  // namespace
}  // namespace weave
