"""`collect`: LMS zips (Moodle, Canvas, plain folders) into DIR/<student>/<assignment>/, names decoded as written."""
import zipfile
from pathlib import Path

import pytest

from autograder.__main__ import main
from autograder.collect import UTF8_FLAG, collect, decode_name_bytes, member_name, name_keys

ROOT = Path(__file__).resolve().parent.parent
NB = b'{"cells": [], "metadata": {}, "nbformat": 4, "nbformat_minor": 5}'


def _zip(path: Path, members: dict) -> Path:
    """A zip as Python writes it: non-ASCII names in UTF-8 with the flag set."""
    with zipfile.ZipFile(path, "w") as zf:
        for name, data in members.items():
            zf.writestr(name, data)
    return path


def _raw_zip(path: Path, members: dict) -> Path:
    """A zip whose member names are exactly the given bytes, without the UTF-8 flag (as old tools write them).

    Written with ASCII placeholders of the same length, which are then replaced in the local
    headers and the central directory."""
    placeholders = {}
    with zipfile.ZipFile(path, "w") as zf:
        for i, (raw, data) in enumerate(members.items()):
            placeholder = f"@{i:03d}@".ljust(len(raw), "#").encode()
            assert len(placeholder) == len(raw)
            zf.writestr(placeholder.decode(), data)
            placeholders[placeholder] = raw
    blob = path.read_bytes()
    for placeholder, raw in placeholders.items():
        assert blob.count(placeholder) == 2  # local header and central directory
        blob = blob.replace(placeholder, raw)
    path.write_bytes(blob)
    with zipfile.ZipFile(path) as zf:  # really no UTF-8 flag, really these bytes
        for info in zf.infolist():
            assert not info.flag_bits & UTF8_FLAG
        assert sorted(i.orig_filename.encode("cp437") for i in zf.infolist()) == sorted(members)
    return path


def _roster(path: Path, text: str, encoding: str = "utf-8") -> Path:
    path.write_text(text, encoding=encoding)
    return path


def _collect(tmp_path, capsys, *archives, roster=None, assignment="a1_neuron"):
    """Run the command; (exit status, stdout, stderr)."""
    argv = ["collect", *map(str, archives), "--assignment", assignment, "--out", str(tmp_path / "subs")]
    code = main(argv + (["--roster", str(roster)] if roster else []))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


# --- member names --------------------------------------------------------------------------------
@pytest.mark.parametrize("text, encoding", [
    ("Иванов Боб_1001_assignsubmission_file_/дз.ipynb", "cp866"),
    ("Пётр Сёмин №2_1002_assignsubmission_file_/a1.ipynb", "cp866"),
    ("Анна Петрова_1003_assignsubmission_file_/a1.ipynb", "utf-8"),
    ("José García_1004_assignsubmission_file_/a1.ipynb", "cp437"),
    ("Müller Jürgen_1005_assignsubmission_file_/a1.ipynb", "cp437"),
    ("plain_1006_assignsubmission_file_/a1.ipynb", "ascii"),
])
def test_names_without_the_utf8_flag_are_decoded_as_written(text, encoding):
    assert decode_name_bytes(text.encode(encoding)) == text


def test_member_name_reads_raw_cp866_utf8_and_cp437_names_from_a_real_zip(tmp_path):
    names = {"Иванов Боб_1_assignsubmission_file_/дз.ipynb": "cp866",
             "Анна Петрова_2_assignsubmission_file_/a1.ipynb": "utf-8",
             "José García_3_assignsubmission_file_/a1.ipynb": "cp437"}
    archive = _raw_zip(tmp_path / "raw.zip", {n.encode(enc): NB for n, enc in names.items()})
    flagged = _zip(tmp_path / "flagged.zip", {"Ёлкин Ян_4_assignsubmission_file_/a1.ipynb": NB})
    with zipfile.ZipFile(archive) as zf:
        assert sorted(member_name(i) for i in zf.infolist()) == sorted(names)
    with zipfile.ZipFile(flagged) as zf:
        assert zf.infolist()[0].flag_bits & UTF8_FLAG
        assert member_name(zf.infolist()[0]) == "Ёлкин Ян_4_assignsubmission_file_/a1.ipynb"


def test_a_cp866_moodle_zip_from_a_russian_windows_is_matched_with_the_roster(tmp_path, capsys):
    archive = _raw_zip(tmp_path / "moodle.zip", {
        "Иванов Боб_1001_assignsubmission_file_/Домашка.ipynb".encode("cp866"): NB,
        "Анна Петрова_1002_assignsubmission_file_/a1.ipynb".encode("utf-8"): NB,
        "José García_1003_assignsubmission_file_/a1.ipynb".encode("cp437"): NB,
    })
    roster = _roster(tmp_path / "roster.csv", "student_id,name\nivanov,Боб Иванов\npetrova,Анна Петрова\n"
                                              "garcia,José García\n")
    code, out, err = _collect(tmp_path, capsys, archive, roster=roster)
    assert code == 0, out + err
    for sid in ("ivanov", "petrova", "garcia"):
        assert (tmp_path / "subs" / sid / "a1_neuron/a1_neuron.ipynb").read_bytes() == NB
    assert "not matched" not in out


# --- the roster ----------------------------------------------------------------------------------
def test_name_keys_are_unicode_aware_and_order_free():
    assert "smithalice" in name_keys("Alice Smith") and "alicesmith" in name_keys("Alice Smith")
    assert name_keys("Боб Иванов") == {"бобиванов", "ивановбоб"}
    assert name_keys("Пётр Сёмин") == name_keys("Семин Петр")
    assert name_keys("José García") == name_keys("jose GARCIA")
    assert name_keys("Иван") != name_keys("Пётр") and name_keys("") == set()
    assert len(name_keys("a b c d e")) == 120 and name_keys("a b c d e f") == {"abcdef", "fedcba"}


def test_a_canvas_zip_with_a_roster_of_full_names_places_every_student(tmp_path, capsys):
    archive = _zip(tmp_path / "canvas.zip", {
        "smithalice_12345_67890_a1_neuron.ipynb": NB,
        "doejohn_LATE_12346_67891_a1_neuron-1.ipynb": NB,
        "leemaryann_12347_67892_homework.ipynb": NB,
        "ivanovbob_12348_67893_a1.ipynb": NB,
    })
    roster = _roster(tmp_path / "roster.csv",
                     "student_id,name,first_name,last_name\n"
                     "s1,Alice Smith,,\n"
                     "s2,,John,Doe\n"
                     "s3,Mary Ann Lee,,\n"
                     "s4,Боб Иванов,,\n", encoding="utf-8-sig")  # with a BOM, as Excel writes it
    code, out, err = _collect(tmp_path, capsys, archive, roster=roster)
    assert code == 0, out + err
    assert (tmp_path / "subs/s1/a1_neuron/a1_neuron.ipynb").read_bytes() == NB
    assert (tmp_path / "subs/s2/a1_neuron/a1_neuron.ipynb").is_file()
    assert (tmp_path / "subs/s3/a1_neuron/a1_neuron.ipynb").is_file()
    assert not (tmp_path / "subs/s4").exists()  # Canvas writes Latin letters; a Cyrillic roster name is different
    assert "placed 3 files for 3 students" in out and "ivanovbob" in out


def test_moodle_surname_first_matches_the_roster_name_in_the_other_order(tmp_path, capsys):
    archive = _zip(tmp_path / "moodle.zip", {
        "Иванов Боб_1001_assignsubmission_file_/a1.ipynb": NB,
        "Семин Петр_1002_assignsubmission_file_/a1.ipynb": NB,
    })
    roster = _roster(tmp_path / "roster.csv", "student_id;first_name;last_name\nbi;Боб;Иванов\nps;Пётр;Сёмин\n")
    code, out, err = _collect(tmp_path, capsys, archive, roster=roster)
    assert code == 0, out + err
    assert (tmp_path / "subs/bi/a1_neuron/a1_neuron.ipynb").is_file()
    assert (tmp_path / "subs/ps/a1_neuron/a1_neuron.ipynb").is_file()


def test_a_member_matches_by_login(tmp_path, capsys):
    archive = _zip(tmp_path / "canvas.zip", {"asmith_12345_67890_a1.ipynb": NB})
    roster = _roster(tmp_path / "roster.csv", "student_id,login,name\ns1,ASmith,Alice Smith\n")
    code, out, err = _collect(tmp_path, capsys, archive, roster=roster)
    assert code == 0, out + err
    assert (tmp_path / "subs/s1/a1_neuron/a1_neuron.ipynb").is_file()


def test_a_name_two_students_share_is_ambiguous_and_names_both(tmp_path, capsys):
    archive = _zip(tmp_path / "moodle.zip", {
        "Alice Smith_1001_assignsubmission_file_/a1.ipynb": NB,
        "Alice Smith_1002_assignsubmission_file_/a1.ipynb": NB,
        "Bob Jones_1003_assignsubmission_file_/a1.ipynb": NB,
    })
    roster = _roster(tmp_path / "roster.csv", "student_id,lms_id,name\ns1,,Alice Smith\ns2,1002,Smith Alice\n"
                                              "s3,,Bob Jones\n")
    code, out, err = _collect(tmp_path, capsys, archive, roster=roster)
    assert code == 0, out + err
    assert (tmp_path / "subs/s2/a1_neuron/a1_neuron.ipynb").is_file()  # its LMS id decides
    assert (tmp_path / "subs/s3/a1_neuron/a1_neuron.ipynb").is_file()
    assert not (tmp_path / "subs/s1").exists()
    [line] = [line for line in out.splitlines() if "1001" in line]
    assert "ambiguous" in line and "s1" in line and "s2" in line


def test_the_two_students_a_name_is_ambiguous_between_are_named_when_nothing_else_matches(tmp_path, capsys):
    archive = _zip(tmp_path / "moodle.zip", {"Smith Alice_1001_assignsubmission_file_/a1.ipynb": NB})
    roster = _roster(tmp_path / "roster.csv", "student_id,name\ns1,Alice Smith\ns2,Alice Smith\n")
    code, out, err = _collect(tmp_path, capsys, archive, roster=roster)
    assert code == 1
    assert "ambiguous" in err and "s1 and s2" in err


def test_a_roster_row_without_student_id_is_reported(tmp_path, capsys):
    archive = _zip(tmp_path / "moodle.zip", {"Alice Smith_1001_assignsubmission_file_/a1.ipynb": NB,
                                             "Bob Jones_1002_assignsubmission_file_/a1.ipynb": NB})
    roster = _roster(tmp_path / "roster.csv", "student_id,name\ns1,Alice Smith\n,Bob Jones\n,,\n")
    code, out, err = _collect(tmp_path, capsys, archive, roster=roster)
    assert code == 0
    assert "line 3: no student_id for 'Bob Jones'" in out
    assert "'Bob Jones' (LMS id 1002) is not in the roster" in out
    assert out.count("no student_id") == 1  # an empty row is not a problem


def test_a_roster_without_a_student_id_column_is_a_usage_error(tmp_path, capsys):
    archive = _zip(tmp_path / "moodle.zip", {"Alice Smith_1001_assignsubmission_file_/a1.ipynb": NB})
    roster = _roster(tmp_path / "roster.csv", "id,name\ns1,Alice Smith\n")
    code, out, err = _collect(tmp_path, capsys, archive, roster=roster)
    assert code == 2
    assert str(roster) in err and "student_id" in err and "'id', 'name'" in err
    assert not (tmp_path / "subs").exists()


def test_a_roster_that_is_not_utf8_is_a_usage_error(tmp_path, capsys):
    archive = _zip(tmp_path / "moodle.zip", {"Alice Smith_1001_assignsubmission_file_/a1.ipynb": NB})
    roster = _roster(tmp_path / "roster.csv", "student_id,name\ns1,Боб Иванов\n", encoding="cp1251")
    code, out, err = _collect(tmp_path, capsys, archive, roster=roster)
    assert code == 2 and "not UTF-8" in err


# --- what is placed, and what is not -------------------------------------------------------------
def test_collect_understands_moodle_and_canvas_and_reports_the_rest(tmp_path, capsys):
    nb = (ROOT / "assignments/a1_neuron/a1_neuron.ipynb").read_bytes()
    moodle = _zip(tmp_path / "moodle.zip", {
        "Anna Petrova_1001_assignsubmission_file_/homework1.ipynb": nb,
        "Ivan Ivanov_1002_assignsubmission_file_/a1.ipynb": nb,
        "readme.txt": b"x",
        "../evil.ipynb": nb,
    })
    canvas = _zip(tmp_path / "canvas.zip", {
        "smithjohn_2001_3001_a1_neuron.ipynb": nb,
        "doejane_LATE_2002_3002_a1_neuron-1.ipynb": nb,
    })
    code, out, err = _collect(tmp_path, capsys, moodle, canvas)
    assert code == 0
    for sid in ("1001", "1002", "2001", "2002"):
        assert (tmp_path / "subs" / sid / "a1_neuron" / "a1_neuron.ipynb").read_bytes() == nb
    assert "readme.txt" in out and "unsafe path" in out
    assert not (tmp_path / "evil.ipynb").exists()


def test_collect_with_a_roster_maps_to_course_ids(tmp_path, capsys):
    archive = _zip(tmp_path / "m.zip", {"Anna Petrova_1001_assignsubmission_file_/x.ipynb": NB,
                                        "Someone Else_1003_assignsubmission_file_/x.ipynb": NB})
    roster = _roster(tmp_path / "roster.csv", "student_id,lms_id,name\napetrova,1001,Anna Petrova\n")
    code, out, err = _collect(tmp_path, capsys, archive, roster=roster)
    assert code == 0
    assert (tmp_path / "subs/apetrova/a1_neuron/a1_neuron.ipynb").is_file()
    assert "Someone Else" in out and "not in the roster" in out


def test_placing_nothing_fails_and_says_why(tmp_path, capsys):
    archive = _zip(tmp_path / "odd.zip", {"notes.txt": b"x", "Some Folder/a1.ipynb": NB, "a/b/c/d.ipynb": NB})
    code, out, err = _collect(tmp_path, capsys, archive)
    assert code == 1
    assert "placed nothing: 3 members did not match" in err
    assert "'Some Folder' is not a plain student id" in err and "notes.txt" in err
    assert "Moodle:" in err and "Canvas:" in err and "<student>/a1_neuron/<file>" in err


def test_an_archive_that_is_not_a_zip_is_reported(tmp_path, capsys):
    (tmp_path / "broken.zip").write_bytes(b"this is not a zip")
    good = _zip(tmp_path / "good.zip", {"alice/a1.ipynb": NB})
    code, out, err = _collect(tmp_path, capsys, tmp_path / "broken.zip")
    assert code == 1 and "broken.zip: not a readable zip file" in err
    code, out, err = _collect(tmp_path, capsys, tmp_path / "broken.zip", good)
    assert code == 0 and "broken.zip: not a readable zip file" in out


def test_an_existing_file_in_dir_is_kept_not_overwritten(tmp_path, capsys):
    mine = tmp_path / "subs/1001/a1_neuron/a1_neuron.ipynb"
    mine.parent.mkdir(parents=True)
    mine.write_bytes(b"graded last week")
    archive = _zip(tmp_path / "moodle.zip", {"Alice Smith_1001_assignsubmission_file_/a1.ipynb": NB,
                                             "Bob Jones_1002_assignsubmission_file_/a1.ipynb": NB})
    code, out, err = _collect(tmp_path, capsys, archive)
    assert code == 0
    assert mine.read_bytes() == b"graded last week"
    assert "already exists" in out and "not overwritten" in out
    assert (tmp_path / "subs/1002/a1_neuron/a1_neuron.ipynb").read_bytes() == NB
    code, out, err = _collect(tmp_path, capsys, archive)  # a second run changes nothing and is no failure
    assert code == 0 and "placed 0 files" in out and "1 files were already there" in out
    assert mine.read_bytes() == b"graded last week"


def test_an_existing_link_in_dir_is_not_followed(tmp_path, capsys):
    outside = tmp_path / "outside.ipynb"
    target = tmp_path / "subs/1001/a1_neuron/a1_neuron.ipynb"
    target.parent.mkdir(parents=True)
    target.symlink_to(outside)  # dangling: writing through it would create a file outside DIR
    archive = _zip(tmp_path / "moodle.zip", {"Alice Smith_1001_assignsubmission_file_/a1.ipynb": NB})
    code, out, err = _collect(tmp_path, capsys, archive)
    assert code == 1 and not outside.exists()


def test_a_plain_folder_zip_is_read_as_one_folder_per_student(tmp_path, capsys):
    archive = _zip(tmp_path / "folders.zip", {
        "alice/homework.ipynb": NB,
        "bob/a1_neuron/a1_neuron.ipynb": NB,
        "bob/a1_neuron/data.csv": b"1,2",
        "carol/other/a1.ipynb": NB,
        "notes/readme.txt": b"x",
        "top.ipynb": NB,
    })
    code, out, err = _collect(tmp_path, capsys, archive)
    assert code == 0, out + err
    assert (tmp_path / "subs/alice/a1_neuron/a1_neuron.ipynb").read_bytes() == NB
    assert (tmp_path / "subs/bob/a1_neuron/a1_neuron.ipynb").read_bytes() == NB
    assert (tmp_path / "subs/bob/a1_neuron/data.csv").read_bytes() == b"1,2"
    assert sorted(p.name for p in (tmp_path / "subs").iterdir()) == ["alice", "bob"]
    assert "carol/other/a1.ipynb" in out and "'notes' holds no .ipynb" in out and "top.ipynb" in out


def test_a_plain_folder_zip_with_a_roster_takes_the_folders_it_knows(tmp_path, capsys):
    archive = _zip(tmp_path / "folders.zip", {"s1/a1.ipynb": NB, "bivanov/a1.ipynb": NB, "stranger/a1.ipynb": NB})
    roster = _roster(tmp_path / "roster.csv", "student_id,login\ns1,asmith\ns2,BIvanov\n")
    code, out, err = _collect(tmp_path, capsys, archive, roster=roster)
    assert code == 0, out + err
    assert (tmp_path / "subs/s1/a1_neuron/a1_neuron.ipynb").is_file()
    assert (tmp_path / "subs/s2/a1_neuron/a1_neuron.ipynb").is_file()
    assert "folder 'stranger' is not in the roster" in out


def test_a_moodle_zip_is_never_read_as_plain_folders(tmp_path):
    archive = _zip(tmp_path / "moodle.zip", {"Alice Smith_1001_assignsubmission_file_/a1.ipynb": NB,
                                             "extra/a1.ipynb": NB})
    report = collect([archive], "a1_neuron", tmp_path / "subs", ["a1_neuron"])
    assert [sid for sid, _ in report.placed] == ["1001"]
    assert [m for m, _ in report.unmatched] == ["extra/a1.ipynb"]


def test_backslash_names_and_hidden_or_linked_members_are_not_extracted(tmp_path):
    archive = tmp_path / "odd.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        zf.writestr("..\\..\\evil.ipynb", NB)
        zf.writestr("alice/.secret.ipynb", NB)
        link = zipfile.ZipInfo("alice/link.ipynb")
        link.external_attr = 0o120777 << 16
        zf.writestr(link, "/etc/passwd")
        zf.writestr("alice/a1.ipynb", NB)
    report = collect([archive], "a1_neuron", tmp_path / "subs", ["a1_neuron"])
    assert dict(report.unmatched) == {"../../evil.ipynb": "unsafe path in archive",
                                      "alice/.secret.ipynb": "hidden file or system folder",
                                      "alice/link.ipynb": "symbolic link"}
    assert [p for _, p in report.placed] == [str(tmp_path / "subs/alice/a1_neuron/a1_neuron.ipynb")]
    assert not (tmp_path / "evil.ipynb").exists() and not (tmp_path.parent / "evil.ipynb").exists()
