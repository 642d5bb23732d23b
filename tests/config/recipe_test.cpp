// Recipes: defaults, YAML parsing, override precedence, path resolution, collected errors,
// effective-config round trip, the shipped configs/ and the generated reference.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <set>

#include "mlxft/config/load.h"
#include "mlxft/config/reference.h"
#include "mlxft/config/schema.h"
#include "mlxft/config/validate.h"
#include "mlxft/model/shipped.h"
#include "mlxft/util/error.h"
#include "support/test_support.h"

namespace fs = std::filesystem;
using ::testing::HasSubstr;

namespace mlxft {
namespace {

const char* kMinimal = "model:\n  path: model\ndata:\n  dataset_path: data/train.jsonl\n";

// The Config error load/parse throws, or a failure when none is thrown.
Error config_error(const std::string& yaml, const Overrides& cli = {}, const Environment& env = {}) {
  try {
    parse_recipe(yaml, "/base", "recipe.yaml", cli, env);
  } catch (const Error& e) {
    return e;
  }
  ADD_FAILURE() << "no error for:\n" << yaml;
  return Error(ErrorKind::Io, "", "");
}

TEST(RecipeDefaults, AreTheSeedsValues) {
  const Recipe r = parse_recipe(kMinimal, "/base", "recipe.yaml");
  EXPECT_EQ(r.lora.rank, 16);
  EXPECT_DOUBLE_EQ(r.lora.alpha, 32.0);
  EXPECT_DOUBLE_EQ(r.lora.dropout, 0.05);
  EXPECT_EQ(r.lora.target_modules, (std::vector<std::string>{"q_proj", "v_proj"}));
  EXPECT_FALSE(r.lora.layers.has_value());
  EXPECT_EQ(r.training.batch_size, 2);
  EXPECT_EQ(r.training.gradient_accumulation_steps, 4);
  EXPECT_DOUBLE_EQ(r.training.learning_rate, 2e-4);
  EXPECT_DOUBLE_EQ(r.training.adam_beta2, 0.999);
  EXPECT_DOUBLE_EQ(r.training.adam_epsilon, 1e-8);
  EXPECT_DOUBLE_EQ(r.training.weight_decay, 0.01);
  EXPECT_DOUBLE_EQ(r.training.max_grad_norm, 1.0);
  EXPECT_EQ(r.training.warmup_steps, 100);
  EXPECT_EQ(r.training.lr_scheduler, "cosine");
  EXPECT_DOUBLE_EQ(r.training.min_lr_ratio, 0.1);
  EXPECT_EQ(r.data.max_seq_length, 2048);
  EXPECT_EQ(r.training.num_epochs, 3);
  EXPECT_EQ(r.data.seed, 42);
  EXPECT_EQ(r.training.logging_steps, 10);
  EXPECT_EQ(r.training.eval_steps, 50);
  EXPECT_EQ(r.training.save_steps, 100);
  EXPECT_EQ(r.output.save_total_limit, 3);
  EXPECT_DOUBLE_EQ(r.evaluation.temperature, 0.7);
  EXPECT_DOUBLE_EQ(r.evaluation.top_p, 0.9);
  EXPECT_EQ(r.evaluation.max_new_tokens, 100);
  EXPECT_EQ(r.evaluation.num_samples, 5);
  EXPECT_EQ(r.advanced.max_consecutive_nan, 3);
  EXPECT_EQ(r.data.labels, "desirable");
}

TEST(RecipeDefaults, RequireModelAndDataset) {
  const Error e = config_error("training:\n  batch_size: 4\n");
  EXPECT_EQ(e.kind(), ErrorKind::Config);
  EXPECT_EQ(e.exit_code(), 2);
  EXPECT_THAT(e.what(), HasSubstr("model.path is required"));
  EXPECT_THAT(e.what(), HasSubstr("data.dataset_path is required"));
}

TEST(RecipeParse, ReadsEveryKindOfValue) {
  const Recipe r = parse_recipe(std::string(kMinimal) +
                                    "lora:\n  layers: [0, 2]\n  target_modules: [q_proj, down_proj]\n"
                                    "  use_rslora: yes\ntraining:\n  learning_rate: 3e-5\n  max_steps: 7\n"
                                    "logging:\n  log_file: null\n",
                                "/base", "recipe.yaml");
  EXPECT_EQ(r.lora.layers, (std::vector<int>{0, 2}));
  EXPECT_EQ(r.lora.target_modules, (std::vector<std::string>{"q_proj", "down_proj"}));
  EXPECT_TRUE(r.lora.use_rslora);
  EXPECT_DOUBLE_EQ(r.training.learning_rate, 3e-5);
  EXPECT_EQ(r.training.max_steps, 7);
  EXPECT_EQ(r.logging.log_file, "");
}

TEST(RecipeParse, ResolvesFilePathsAgainstTheRecipeDirectory) {
  const Recipe r = parse_recipe(std::string(kMinimal) + "output:\n  output_dir: ../runs/x\n", "/base/configs",
                                "recipe.yaml");
  EXPECT_EQ(r.model.path, "/base/configs/model");
  EXPECT_EQ(r.data.dataset_path, "/base/configs/data/train.jsonl");
  EXPECT_EQ(r.output.output_dir, "/base/runs/x");
  const Recipe abs = parse_recipe("model:\n  path: /m\ndata:\n  dataset_path: /d.jsonl\n", "/base", "r.yaml");
  EXPECT_EQ(abs.model.path, "/m");
}

TEST(RecipeParse, KeepsAShippedModelNameAsWritten) {
  const Recipe r =
      parse_recipe("model:\n  path: shipped:smollm2-135m-instruct-q4_1\ndata:\n  dataset_path: d.jsonl\n",
                   "/base/configs", "r.yaml");
  EXPECT_EQ(r.model.path, "shipped:smollm2-135m-instruct-q4_1");
  EXPECT_EQ(r.data.dataset_path, "/base/configs/d.jsonl");
}

TEST(RecipeParse, ResolvesOverriddenPathsAgainstTheWorkingDirectory) {
  Overrides cli;
  cli.dataset_path = "cli.jsonl";
  const Environment env = {{"OUTPUT_DIR", "env-out"}};
  const Recipe r = parse_recipe(kMinimal, "/base", "recipe.yaml", cli, env);
  EXPECT_EQ(r.data.dataset_path, (fs::current_path() / "cli.jsonl").string());
  EXPECT_EQ(r.output.output_dir, (fs::current_path() / "env-out").string());
}

TEST(RecipeOverrides, FlagsBeatSetBeatsEnvironmentBeatsFile) {
  const std::string yaml = std::string(kMinimal) + "training:\n  batch_size: 3\n";
  EXPECT_EQ(parse_recipe(yaml, "/base", "r.yaml").training.batch_size, 3);
  const Environment env = {{"BATCH_SIZE", "5"}, {"LEARNING_RATE", "1e-5"}, {"LORA_RANK", "8"}};
  EXPECT_EQ(parse_recipe(yaml, "/base", "r.yaml", {}, env).training.batch_size, 5);
  Overrides cli;
  cli.set = {"training.batch_size=6", "lora.target_modules=[k_proj]"};
  Recipe r = parse_recipe(yaml, "/base", "r.yaml", cli, env);
  EXPECT_EQ(r.training.batch_size, 6);
  EXPECT_EQ(r.lora.target_modules, std::vector<std::string>{"k_proj"});
  EXPECT_EQ(r.lora.rank, 8);
  EXPECT_DOUBLE_EQ(r.training.learning_rate, 1e-5);
  cli.batch_size = 7;
  cli.num_epochs = 1;
  cli.lora_rank = 32;
  r = parse_recipe(yaml, "/base", "r.yaml", cli, env);
  EXPECT_EQ(r.training.batch_size, 7);
  EXPECT_EQ(r.training.num_epochs, 1);
  EXPECT_EQ(r.lora.rank, 32);
}

TEST(RecipeErrors, AreCollectedAndNameKeyLineAndAllowedValues) {
  const Error e = config_error(std::string(kMinimal) +
                               "training:\n"
                               "  learning_rat: 1e-4\n"   // line 6
                               "  batch_size: two\n"      // line 7
                               "  lr_scheduler: cosin\n"  // line 8
                               "lora:\n"
                               "  dropout: 1.5\n"   // line 10
                               "evalution: {}\n");  // line 11
  EXPECT_EQ(e.kind(), ErrorKind::Config);
  const std::string msg = e.what();
  EXPECT_THAT(msg, HasSubstr("5 problems"));
  EXPECT_THAT(
      msg,
      HasSubstr("recipe.yaml:6: unknown key 'training.learning_rat'; did you mean training.learning_rate?"));
  EXPECT_THAT(msg, HasSubstr("recipe.yaml:7: training.batch_size must be an integer, got 'two'"));
  EXPECT_THAT(
      msg,
      HasSubstr("recipe.yaml:8: training.lr_scheduler is 'cosin', must be one of: cosine, linear, constant"));
  EXPECT_THAT(msg, HasSubstr("recipe.yaml:10: lora.dropout is 1.5, must be >= 0 and < 1"));
  EXPECT_THAT(msg, HasSubstr("recipe.yaml:11: unknown section 'evalution'; did you mean evaluation?"));
}

TEST(RecipeErrors, PointMisplacedKeysToTheirSection) {
  const Error e = config_error(std::string(kMinimal) + "learning_rate: 1e-4\nlora:\n  batch_size: 4\n");
  EXPECT_THAT(e.what(), HasSubstr("did you mean training.learning_rate"));
  EXPECT_THAT(e.what(), HasSubstr("unknown key 'lora.batch_size'; did you mean training.batch_size?"));
}

TEST(RecipeErrors, NameTheOverrideAtFault) {
  Overrides cli;
  cli.set = {"training.epochs=2", "nonsense", "training.warmup_steps=[1"};
  const Error e = config_error(kMinimal, cli, {{"LEARNING_RATE", "fast"}});
  const std::string msg = e.what();
  EXPECT_THAT(
      msg,
      HasSubstr("--set training.epochs: unknown key 'training.epochs'; did you mean training.num_epochs?"));
  EXPECT_THAT(msg, HasSubstr("--set nonsense: expected section.key=value"));
  EXPECT_THAT(msg, HasSubstr("is not a YAML value"));
  EXPECT_THAT(
      msg, HasSubstr("environment variable LEARNING_RATE: training.learning_rate must be a finite number"));
}

TEST(RecipeErrors, RejectWrongShapesAndBadYaml) {
  EXPECT_THAT(config_error(std::string(kMinimal) + "lora:\n  target_modules: q_proj\n").what(),
              HasSubstr("lora.target_modules must be a list of strings"));
  EXPECT_THAT(config_error(std::string(kMinimal) + "lora:\n  layers: [0, 0]\n").what(),
              HasSubstr("lists 0 twice"));
  EXPECT_THAT(config_error(std::string(kMinimal) + "training:\n  num_epochs: 2.5\n").what(),
              HasSubstr("training.num_epochs must be an integer, got '2.5'"));
  EXPECT_THAT(config_error(std::string(kMinimal) + "data:\n  valid_split: 0.6\n  test_split: 0.5\n").what(),
              HasSubstr("data.valid_split + data.test_split is 1.1, must be below 1"));
  // data.train_split and data.stratify are gone: training takes the rest, every split is stratified
  EXPECT_THAT(config_error(std::string(kMinimal) + "data:\n  train_split: 0.9\n").what(),
              HasSubstr("train_split"));
  EXPECT_THAT(config_error("- just\n- a list\n").what(), HasSubstr("must be a mapping of sections"));
  const Error syntax = config_error("model:\n  path: [unclosed\n");
  EXPECT_THAT(syntax.where(), HasSubstr("recipe.yaml:"));
  EXPECT_THAT(syntax.what(), HasSubstr("not valid YAML"));
}

TEST(RecipeLoad, MissingFileIsAConfigError) {
  try {
    load_recipe("/nonexistent/recipe.yaml");
    FAIL() << "no error";
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::Config);
    EXPECT_EQ(e.where(), "/nonexistent/recipe.yaml");
  }
}

TEST(EffectiveConfig, LoadsBackToTheSameRecipe) {
  test::TempDir dir;
  Recipe r = parse_recipe(kMinimal, dir.path(), "r.yaml");
  r.model.name = "name: with colon # and hash";
  r.lora.layers = std::vector<int>{1, 3};
  r.lora.alpha = 0.1 + 0.2;  // not exactly representable in short decimal form
  r.lora.target_modules = {"o_proj", "gate_proj"};
  r.training.learning_rate = 3.3e-5;
  r.training.max_steps = 123456789012LL;
  r.data.valid_path = (dir.path() / "valid.jsonl").string();
  r.data.valid_split = 0.2;
  r.data.test_split = 0.1;
  r.logging.log_file = "";
  r.system.force = true;
  const fs::path file = dir / "effective_config.yaml";
  write_effective_config(r, file);
  EXPECT_EQ(std::distance(fs::directory_iterator(dir.path()), fs::directory_iterator()),
            1);  // no temp file left
  EXPECT_EQ(load_recipe(file), r);
}

TEST(EffectiveConfig, UnwritableDestinationIsAnIoError) {
  const Recipe r = parse_recipe(kMinimal, "/base", "r.yaml");
  try {
    write_effective_config(r, "/nonexistent-dir/effective_config.yaml");
    FAIL() << "no error";
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::Io);
  }
}

// lora.kind: one of the adapter kinds; dora cannot go to llama.cpp's adapter GGUF (one message naming both).
TEST(RecipeValidation, LoraKindIsAChoiceAndDoraRefusesGgufLora) {
  Recipe r = parse_recipe(kMinimal, "/base", "r.yaml");
  EXPECT_EQ(r.lora.kind, "lora");
  r.lora.kind = "dora";
  EXPECT_TRUE(validate_recipe(r).empty());
  r.output.export_formats = {"peft", "gguf-lora"};
  const auto errors = validate_recipe(r);
  ASSERT_EQ(errors.size(), 1u);
  EXPECT_NE(errors[0].find("gguf-lora"), std::string::npos) << errors[0];
  EXPECT_NE(errors[0].find("lora.kind dora"), std::string::npos) << errors[0];
  r.lora.kind = "qlora";
  r.output.export_formats = {"peft"};
  ASSERT_EQ(validate_recipe(r).size(), 1u);
  EXPECT_NE(validate_recipe(r)[0].find("lora, dora"), std::string::npos) << validate_recipe(r)[0];
}

TEST(RecipeValidation, SystemDeviceIsAutoCpuOrGpu) {
  EXPECT_EQ(parse_recipe(kMinimal, "/base", "r.yaml").system.device, "auto");
  EXPECT_EQ(parse_recipe(std::string(kMinimal) + "system:\n  device: cpu\n", "/base", "r.yaml").system.device,
            "cpu");
  // gpu is a valid recipe whatever the build: the build is asked when the run starts (util/device.h)
  Overrides cli;
  cli.set = {"system.device=gpu"};
  EXPECT_EQ(parse_recipe(kMinimal, "/base", "r.yaml", cli).system.device, "gpu");
  EXPECT_THAT(config_error(std::string(kMinimal) + "system:\n  device: cuda\n").what(),
              HasSubstr("recipe.yaml:6: system.device is 'cuda', must be one of: auto, cpu, gpu"));
}

TEST(ShippedConfigs, EveryFileLoadsAndValidates) {
  int count = 0;
  for (const auto& entry : fs::directory_iterator(test::source_dir() / "configs")) {
    if (entry.path().extension() != ".yaml") continue;
    SCOPED_TRACE(entry.path().string());
    const Recipe r = load_recipe(entry.path());
    EXPECT_TRUE(validate_recipe(r).empty());
    if (is_shipped_model_name(r.model.path)) {
      const std::string name = r.model.path.substr(kShippedPrefix.size());
      EXPECT_TRUE(
          std::ranges::any_of(shipped_models(), [&](const ShippedModel& m) { return m.name == name; }))
          << r.model.path << " is not a shipped model";
    } else {
      EXPECT_TRUE(fs::path(r.model.path).is_absolute());
    }
    ++count;
  }
  EXPECT_GE(count, 4);
  const Recipe seed = load_recipe(test::source_dir() / "configs" / "mistral-7b-instruct-v0.3.yaml");
  EXPECT_EQ(seed.lora.rank, 16);
  EXPECT_EQ(seed.training.batch_size * seed.training.gradient_accumulation_steps, 8);
  const Recipe low = load_recipe(test::source_dir() / "configs" / "mistral-7b-low-memory.yaml");
  EXPECT_TRUE(low.training.gradient_checkpointing);
  EXPECT_EQ(low.training.batch_size, 1);
  EXPECT_EQ(low.training.gradient_accumulation_steps, 8);
  EXPECT_EQ(low.data.max_seq_length, 1024);
}

// Each schema row reads and writes its own Recipe member: changing one row's value changes that
// row's encoding and no other's (a row pointing at the wrong member would break this).
TEST(RecipeSchema, EveryRowOwnsADistinctMember) {
  const Recipe defaults;
  std::set<std::string> names;
  for (const auto& field : recipe_schema()) {
    EXPECT_TRUE(names.insert(field.name()).second) << field.name() << " listed twice";
    const YAML::Node before = field.encode(defaults);
    YAML::Node changed;
    if (field.type.rfind("list of strings", 0) == 0) {
      changed = YAML::Load("[changed]");
    } else if (field.type.rfind("list of integers", 0) == 0) {
      changed = YAML::Load("[7]");
    } else if (field.type == "boolean") {
      changed = YAML::Node(before.Scalar() == "true" ? "false" : "true");
    } else if (field.type == "integer" || field.type == "number") {
      changed = YAML::Node("12345");
    } else if (field.type.rfind("{bits, group_size}", 0) == 0) {
      changed = YAML::Load("{bits: 8, group_size: 32}");
    } else {
      changed = YAML::Node("changed-value");
    }
    Recipe r = defaults;
    ASSERT_EQ(field.decode(r, changed), "") << field.name();
    for (const auto& other : recipe_schema()) {
      const bool differs = yaml_inline(other.encode(r)) != yaml_inline(other.encode(defaults));
      EXPECT_EQ(differs, &other == &field) << "changing " << field.name() << " changed " << other.name();
    }
  }
  EXPECT_EQ(names.size(), 94u);  // update with recipe.h when adding a setting
}

TEST(ConfigReference, DocsFileEqualsTheGeneratedReference) {
  EXPECT_EQ(test::read_file(test::source_dir() / "docs" / "config-reference.md"), config_reference_markdown())
      << "regenerate it: build/mlxft config reference > docs/config-reference.md";
}

TEST(ConfigReference, ListsEveryKeyWithItsDefault) {
  const std::string md = config_reference_markdown();
  EXPECT_THAT(md, HasSubstr("| `learning_rate` | number | `0.0002` | > 0 |"));
  EXPECT_THAT(md, HasSubstr("| `target_modules` | list of strings | `[q_proj, v_proj]` |"));
  EXPECT_THAT(md, HasSubstr("| `path` | path | required |"));
  EXPECT_THAT(md, HasSubstr("## advanced"));
}

}  // namespace
}  // namespace mlxft
