"""The commands of the published README run unchanged: both parsers take every flag and resolve them to
the documented settings."""

import logging
import re
import shlex
from pathlib import Path

import pytest

from conftest import ROOT
from fungi_hb.cli import create_memory_bank, eval_gradients
from fungi_hb.cli.flags_doc import PUBLISHED_FLAGS, flags_markdown
from fungi_hb.jobs.preflight import capped_negatives

# The published README's shell blocks (assignments and commands), kept as test data.
PUBLISHED = ROOT / "tests" / "data" / "published_commands.sh"


def published_commands() -> list[tuple[str, list[str]]]:
    """(script, argv) of every `python X.py ...` of the published blocks, variables expanded."""
    commands = []
    for block in PUBLISHED.read_text().split("\n\n"):
        variables: dict[str, str] = {}
        for line in block.replace("\\\n", " ").splitlines():
            line = line.strip()
            if not line or line.startswith("#"):
                continue
            assignment = re.fullmatch(r"([A-Z_]+)=(\S+)", line)
            if assignment:
                variables[assignment[1]] = assignment[2].strip('"')
            elif line.startswith("python "):
                expanded = re.sub(r"\$([A-Z_]+)", lambda m: variables[m[1]], line)
                words = shlex.split(expanded)
                commands.append((Path(words[1]).stem, words[2:]))
    return commands


COMMANDS = published_commands()
PARSERS = {"create_memory_bank": create_memory_bank, "eval_gradients": eval_gradients}


def test_the_flags_page_marks_exactly_the_published_flags():
    used = {word for _, argv in COMMANDS for word in argv if word.startswith("--")}
    assert PUBLISHED_FLAGS == used


def test_the_flags_page_is_current():
    """docs/flags.md is written from the parsers: a setting added or reworded shows there."""
    assert (ROOT / "docs" / "flags.md").read_text() == flags_markdown(), "run python scripts/flags_doc.py"


def test_the_readme_has_the_four_commands():
    assert [script for script, _ in COMMANDS] == ["create_memory_bank", "eval_gradients"] * 2


@pytest.mark.parametrize("number", range(4))
def test_every_published_flag_is_accepted(number):
    script, argv = COMMANDS[number]
    module = PARSERS[script]
    job = module.job_from_args(module.build_parser().parse_args(argv))
    assert job.backbone.model == "dino_vits16" and job.backbone.input_size == 512 and job.backbone.patch_size == 16
    assert job.backbone.weights is None  # the hub cache or a download, as published
    assert job.seed == 42 and job.data.data_dir == Path("./VOCSegmentation")
    assert job.index.backend == "auto" and job.index.num_leaves == 512  # ScaNN wherever it is installed


def test_support_index_commands_resolve_to_the_documented_settings():
    (_, full), (_, efficient) = COMMANDS[0], COMMANDS[2]
    job = create_memory_bank.job_from_args(create_memory_bank.build_parser().parse_args(full))
    assert job.memory.memory_size == 102400 and job.memory.augmentation_epochs == 1
    assert job.index.num_neighbors == 5 and job.data.batch_size == 32 and job.data.num_train_samples is None
    assert job.features_path == Path("support_index/features.pth") and job.index_dir == Path("support_index/index")
    job = create_memory_bank.job_from_args(create_memory_bank.build_parser().parse_args(efficient))
    assert job.memory.memory_size is None and job.memory.augmentation_epochs == 8
    assert job.data.num_train_samples == 83


def test_first_evaluation_command(caplog):
    job = eval_gradients.job_from_args(eval_gradients.build_parser().parse_args(COMMANDS[1][1]))
    assert job.index.num_neighbors == 30 and job.temperature == 0.02 and job.memory.memory_size == 102400
    assert job.fungi.gradients_layer == "backbone.blocks.11.attn.proj" and job.fungi.latent_dim == 96
    assert job.fungi.negative_batch_percent == 0.5 and job.runtime.use_fp16 and job.data.batch_size == 4
    assert job.features == "fungi" and job.fungi.negatives_layout.value == "published"
    # quirk 3: `--n-neighbors 30` asks for 30 negatives; the support index returns 5: capped, with a warning
    assert job.fungi.num_negative_neighbors == 30
    with caplog.at_level(logging.WARNING):
        assert capped_negatives(job.fungi.num_negative_neighbors, 5) == 5
    assert "using 5" in caplog.text


def test_data_efficient_evaluation_command():
    job = eval_gradients.job_from_args(eval_gradients.build_parser().parse_args(COMMANDS[3][1]))
    assert job.index.num_neighbors == 90 and job.index.num_leaves_to_search == 256
    assert job.index.num_reordering_candidates == 1800 and job.temperature == 0.1
    assert job.fungi.num_negative_neighbors == 2 and job.data.num_train_samples == 83
    assert job.memory.memory_size is None
    assert job.support_features == Path("support_index_efficient/features.pth")


@pytest.mark.parametrize(
    "argv",
    [
        ["--batch-size", "0"],
        ["--temperature", "0"],
        ["--memory-size", "-5"],
        ["--negative-batch-percent", "-1"],
        ["--num-neighbors", "two"],
    ],
)
def test_impossible_numbers_are_refused_by_the_parser(argv, capsys):
    with pytest.raises(SystemExit) as exit_info:
        eval_gradients.build_parser().parse_args(argv)
    assert exit_info.value.code == 2
    assert argv[0] in capsys.readouterr().err
