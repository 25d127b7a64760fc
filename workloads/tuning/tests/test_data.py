import numpy as np
import pytest

from rayswarm_tuning.data import DataError, load_dataset, split


def write(tmp_path, text, name="data.csv"):
    path = tmp_path / name
    path.write_text(text)
    return str(path)


def good_csv(rows=30):
    lines = ["a,b,y"]
    for i in range(rows):
        lines.append(f"{i},{i * 0.5},{2 * i + 1}")
    return "\n".join(lines) + "\n"


def test_builtin_diabetes_loads_with_real_values(diabetes):
    assert diabetes.name == "builtin:diabetes"
    assert diabetes.X.dtype == np.float32 and diabetes.X.shape == (442, 10)
    assert diabetes.feature_names[:3] == ["age", "sex", "bmi"]
    assert 19 <= diabetes.X[:, 0].min() and diabetes.X[:, 0].max() <= 79  # age in years
    assert diabetes.fingerprint.startswith("sha256:") and len(diabetes.fingerprint) == 71
    assert load_dataset("builtin:diabetes").fingerprint == diabetes.fingerprint


def test_builtin_friedman1_is_deterministic():
    a, b = load_dataset("builtin:friedman1"), load_dataset("builtin:friedman1")
    assert a.X.shape == (4000, 10) and a.feature_names[0] == "x0"
    assert a.fingerprint == b.fingerprint and np.array_equal(a.X, b.X)


def test_csv_loads_and_fingerprint_follows_content(tmp_path):
    ds = load_dataset(write(tmp_path, good_csv()), "y")
    assert ds.feature_names == ["a", "b"] and ds.rows == 30 and ds.name == "data.csv"
    assert ds.y[3] == 7.0
    other = load_dataset(write(tmp_path, good_csv(31), "other.csv"), "y")
    assert other.fingerprint != ds.fingerprint


def test_split_is_deterministic_and_disjoint(diabetes):
    a = split(diabetes, 42)
    b = split(diabetes, 42)
    c = split(diabetes, 7)
    assert all(np.array_equal(x, y) for x, y in zip(a, b))
    assert not np.array_equal(a[1], c[1])
    assert len(a[0]) + len(a[1]) == diabetes.rows and len(a[1]) == 88


@pytest.mark.parametrize("text,target,message", [
    (good_csv(), "price", "target column 'price' not found in data.csv; columns are: a, b, y"),
    ("a,b,y\n" + "".join(f"{i},x{i},{i}\n" for i in range(30)), "y",
     "feature column 'b' in data.csv is not numeric: value 'x0' in data row 1"),
    ("", "y", "data file is empty"),
    ("  \n\n", "y", "data file is empty"),
    ("a,b,y\n", "y", "has a header but no data rows"),
    ("a,b,y\n" + "".join(f"{i},,{i}\n" for i in range(30)), "y",
     "feature column 'b' in data.csv has only missing values"),
    ("a,b,y\n" + "".join(f"{i},NaN,{i}\n" for i in range(30)), "y",
     "feature column 'b' in data.csv has only missing values"),
    ("a,b,y\n" + "".join(f"{i},{i},high\n" for i in range(30)), "y",
     "target column 'y' in data.csv is not numeric: value 'high' in data row 1"),
    ("a,b,y\n" + "".join(f"{i},{i},\n" for i in range(30)), "y",
     "target column 'y' in data.csv has only missing values"),
    ("a,b,y\n" + "".join(f"{i},{'' if i == 3 else i},{i}\n" for i in range(30)), "y",
     "feature column 'b' in data.csv has 1 missing value(s)"),
    ("a,y\n" + "".join(f"{i},{i}\n" for i in range(5)), "y", "has 5 data rows; at least 20"),
    ("y\n" + "".join(f"{i}\n" for i in range(30)), "y", "no feature columns"),
])
def test_loader_rejects_bad_data_with_clear_message(tmp_path, text, target, message):
    path = write(tmp_path, text)
    with pytest.raises(DataError) as err:
        load_dataset(path, target)
    assert message in str(err.value)
    assert "\n" not in str(err.value)


def test_loader_rejects_missing_file_and_unknown_builtin(tmp_path):
    with pytest.raises(DataError, match="data file not found"):
        load_dataset(str(tmp_path / "nope.csv"), "y")
    with pytest.raises(DataError, match="unknown built-in dataset 'builtin:iris'"):
        load_dataset("builtin:iris", "y")


def test_tune_cli_reports_bad_data_on_one_line(tmp_path, capsys):
    from rayswarm_tuning.tune import main

    rc = main(["--data", write(tmp_path, ""), "--target", "y", "--out", str(tmp_path / "o")])
    err = capsys.readouterr().err
    assert rc == 1
    assert err.strip() == f"tune: error: data file is empty: {tmp_path / 'data.csv'}"
