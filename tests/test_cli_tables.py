"""The command line on real-looking tables: no silent surprises, IDs carried, counts right."""

from __future__ import annotations

import csv

import pytest

from densekit.cli import main


def write(path, text: str):
    path.write_text(text, encoding="utf-8")
    return path


def rows(path):
    with open(path, newline="") as file:
        return list(csv.reader(file))


@pytest.fixture
def shop(tmp_path):
    lines = ["id;price;kind;day;bought"]
    for i in range(40):
        kind = ["a", "b", "c"][i % 3]
        lines.append(
            f"{100 + i};{i % 7},{i % 10};{kind};2024-03-{1 + i % 28:02d};{'yes' if i % 2 else 'no'}"
        )
    return write(tmp_path / "shop.csv", "\n".join(lines) + "\n")


def train(*args):
    return main(["train", *map(str, args), "--epochs", "1", "--hidden", "4"])


def test_train_prints_raw_columns_and_encoded_features_and_warns_once_each(shop, tmp_path, capsys):
    assert train(shop, "--target", "bought", "--drop", "id", "-o", tmp_path / "m.safetensors") == 0
    out, err = capsys.readouterr()
    assert "3 columns -> 32 features after encoding" in err  # price 1 + kind 3 + day 28
    assert err.count("decimal commas") == 1 and "'price'" in err
    assert err.count("holds dates") == 1 and "--dates expand" in err


def test_dates_expand_at_train_is_remembered_at_predict(shop, tmp_path, capsys):
    model = tmp_path / "m.safetensors"
    args = [shop, "--target", "bought", "--drop", "id", "--dates", "expand", "-o", model]
    assert train(*args) == 0
    assert "3 columns" not in capsys.readouterr().out  # day became 4 number columns
    out = tmp_path / "p.csv"
    assert main(["predict", str(model), str(shop), "-o", str(out), "--id", "id", "-q"]) == 0
    table = rows(out)
    assert table[0] == ["id", "prediction"] and table[1][0] == "100" and len(table) == 41


def test_a_test_file_is_read_as_the_training_file_was(shop, tmp_path, capsys):
    """--test FILE with --dates expand: its date column is expanded too, then scored."""
    model = tmp_path / "m.safetensors"
    args = [shop, "--target", "bought", "--drop", "id", "--dates", "expand", "--test", shop]
    assert train(*args, "-o", model) == 0
    assert "on the test file" in capsys.readouterr().out


def test_predict_counts_categories_unseen_in_training(shop, tmp_path, capsys):
    model = tmp_path / "m.safetensors"
    assert train(shop, "--target", "bought", "--drop", "id,day", "-o", model, "-q") == 0
    new = write(tmp_path / "new.csv", "price;kind\n1,5;a\n2,5;z\n3;z\n")
    assert main(["predict", str(model), str(new)]) == 0
    err = capsys.readouterr().err
    assert "2 cells of 3 rows hold categories not seen in training ('kind': 2)" in err


def test_a_zero_one_target_written_as_decimals_suggests_the_task(tmp_path, capsys):
    text = "x,y\n" + "".join(f"{i},{float(i % 2)}\n" for i in range(30))
    model = tmp_path / "m.safetensors"
    assert train(write(tmp_path / "d.csv", text), "--target", "y", "-o", model) == 0
    err = capsys.readouterr().err
    assert "read as regression" in err and "--task classification" in err


def test_predict_id_of_an_unknown_column_is_one_clear_error(shop, tmp_path, capsys):
    model = tmp_path / "m.safetensors"
    assert train(shop, "--target", "bought", "-o", model, "-q") == 0
    assert main(["predict", str(model), str(shop), "--id", "ID"]) == 2
    err = capsys.readouterr().err
    assert "--id column 'ID'" in err and "did you mean 'id'" in err


def test_missing_values_names_text_that_counts_as_missing(tmp_path, capsys):
    text = "veneer,y\n" + "".join(f"{v},{i % 2}\n" for i, v in enumerate(["None", "Stone"] * 10))
    data = write(tmp_path / "houses.csv", text)
    model = tmp_path / "m.safetensors"
    assert train(data, "--target", "y", "-o", model, "-q") == 0
    assert main(["summary", str(model)]) == 0
    assert "veneer=None" in capsys.readouterr().out  # "None" is a real level by default
    model.unlink()
    assert train(data, "--target", "y", "-o", model, "--missing-values", "None") == 0
    err = capsys.readouterr().err
    assert "filled missing values: veneer 10 with their own level" in err
