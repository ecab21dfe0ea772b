// Options described once (util/option_table.hpp): the checks, the JSON and the TOML lines made
// from a table, on the kNN options; the flags are checked end to end by the e2e tests.
#include <gtest/gtest.h>

#include "util/config_json.hpp"
#include "util/config_options.hpp"
#include "weave/error.hpp"

namespace weave {
namespace {

std::string error_of(const KnnConfig& c) {
  try {
    c.validate();
  } catch (const UserError& e) {
    return e.what();
  }
  return "";
}

KnnConfig valid() {
  KnnConfig c;
  c.corpus.path = "c.h5";
  c.out = "k.h5";
  return c;
}

TEST(OptionTable, FlagsAreTheKeysWithDashes) {
  EXPECT_EQ(util::flag_of("gpu_resident_rows"), "--gpu-resident-rows");
  EXPECT_EQ(util::flag_of("k"), "--k");
}

TEST(OptionTable, DefaultsPassAndEveryBoundNamesItsFlag) {
  EXPECT_EQ(error_of(valid()), "");
  KnnConfig c = valid();
  c.k = 0;
  EXPECT_EQ(error_of(c), "--k must be in [1, 1024] (got 0)");
  c = valid();
  c.target_recall = 0;
  EXPECT_EQ(error_of(c), "--target-recall must be in (0, 1] (got 0)");
  c = valid();
  c.query_tile = 0;
  EXPECT_EQ(error_of(c), "--query-tile must be positive (got 0)");
  c = valid();
  c.nlist = -1;
  EXPECT_EQ(error_of(c), "--nlist must be >= 0 (0: automatic; got -1)");
}

TEST(OptionTable, NamedValuesRoundTripAndUnknownNamesAreRefused) {
  EXPECT_EQ(*util::option_error("gpu_scores", {"bf16", "fp32"}, {}, false, {}, nullptr, "fp16", std::nullopt, "fp16"),
            "--gpu-scores must be bf16 or fp32 (got fp16)");
  KnnConfig c = valid();
  for (const auto& o : knn_options())
    if (const auto* named = std::get_if<util::Named<KnnConfig>>(&o.member))
      for (const char* name : o.choices) {
        named->set(c, name);
        EXPECT_EQ(named->get(c), name) << o.key;
      }
  EXPECT_EQ(c.method, KnnMethod::kAuto);  // the last choice of each set
  EXPECT_EQ(c.gpu_gemm, GpuGemm::kCublasLt);
}

TEST(OptionTable, RelationsBetweenOptionsAreStillChecked) {
  KnnConfig c = valid();
  c.nlist = 4;
  c.nprobe = 8;
  EXPECT_NE(error_of(c).find("--nprobe (8) must be at most --nlist (4)"), std::string::npos);
}

TEST(OptionTable, JsonHoldsEveryOptionWithItsValue) {
  KnnConfig c = valid();
  c.gpu_gemm = GpuGemm::kCublasLt;
  c.target_recall = 0.9;
  const nlohmann::json j = to_json(c);
  for (const auto& o : knn_options()) EXPECT_TRUE(j.contains(o.key)) << o.key;
  EXPECT_EQ(j["gpu_gemm"], "cublaslt");
  EXPECT_EQ(j["target_recall"], 0.9);
  EXPECT_EQ(j["k"], 10);
}

TEST(OptionTable, TomlValuesAreTomlLiterals) {
  const KnnConfig defaults;
  for (const auto& o : knn_options()) {
    const std::string v = util::toml_value(defaults, o);
    if (std::string(o.key) == "method") EXPECT_EQ(v, "\"auto\"");
    if (std::string(o.key) == "target_recall") EXPECT_EQ(v, "0.95");
    if (std::string(o.key) == "k") EXPECT_EQ(v, "10");
  }
}

}  // namespace
}  // namespace weave
