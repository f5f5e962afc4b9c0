"""HeadWatch: when to look at the top of the list, and how deep."""

from __future__ import annotations

from airflow_provider_callbell.api.head import MAX_FINAL_LOOKS, MAX_LOOK_PAGES, HeadWatch

TOP = [f"t{n}" for n in range(10)]


def finished(watch: HeadWatch) -> bool:
    return watch.done


def started() -> HeadWatch:
    watch = HeadWatch(interval=1.0, run=3)
    watch.begin(TOP, now=0.0)
    return watch


def test_looks_are_due_every_interval() -> None:
    watch = started()

    assert watch.next_page(0.5, final=False) is None
    assert watch.seconds_to_next(0.5) == 0.5
    assert watch.next_page(1.0, final=False) == 1
    assert watch.next_page(1.0, final=False) is None, "one page at a time"


def test_a_quiet_top_takes_one_page() -> None:
    watch = started()
    watch.next_page(1.0, final=False)

    assert watch.accept(["new", *TOP[:9]], found=0, last_page=False, now=1.1)
    assert watch.seconds_to_next(1.1) == 1.0


def test_a_top_that_moved_a_lot_is_read_until_unmoved_contacts_in_their_order() -> None:
    watch = started()
    watch.next_page(1.0, final=False)
    moved = ["m1", "t5", "m2", "t2", "t3", "m3", "t9", "t8", "m4", "m5"]

    assert not watch.accept(moved, found=0, last_page=False, now=1.1)
    assert watch.next_page(1.1, final=False) == 2
    assert watch.accept(["t0", "t1", "t4", "t6", "t7"], found=0, last_page=False, now=1.2)


def test_contacts_that_moved_again_in_their_former_order_by_chance_do_not_end_a_look() -> None:
    """t0, t3, t6, t9 moved again since the previous look, which saw them in that order: the
    contacts between them (t1, t2, t4...) are still below, unread, so what moved below the four
    (``escaped``, on the next page) would be missed if the look ended here."""
    watch = started()
    watch.next_page(1.0, final=False)

    assert not watch.accept(["m1", "t0", "m2", "t3", "t6", "t9"], found=2, last_page=False, now=1.1)
    assert watch.next_page(1.1, final=False) == 2
    assert watch.accept(["escaped", "t1", "t2", "t4", "t5"], found=1, last_page=False, now=1.2)


def test_a_contact_deleted_among_unmoved_ones_still_ends_a_look() -> None:
    watch = started()
    watch.next_page(1.0, final=False)

    # t0 and t5 moved to the top; t3 was deleted where it stood
    assert watch.accept(["t5", "t0", "t1", "t2", "t4", "t6"], found=0, last_page=False, now=1.1)


def test_a_look_reads_deeper_until_the_end_of_the_list() -> None:
    watch = started()
    watch.next_page(1.0, final=False)

    assert watch.accept(["m1", "m2"], found=0, last_page=True, now=1.1)
    assert not watch.overflowed


def test_a_look_reads_as_deep_as_the_moves_go() -> None:
    """Many pages moved between two looks (a Retry-After held the walk): the look reads past them."""
    watch = started()
    watch.next_page(1.0, final=False)
    for page in range(1, 60):
        assert not watch.accept([f"p{page}-{n}" for n in range(10)], found=10, last_page=False, now=1.0)
        assert watch.next_page(1.0, final=False) == page + 1

    assert watch.accept(TOP, found=0, last_page=False, now=1.0)
    assert not watch.overflowed


def test_a_look_gives_up_after_max_pages_and_says_so() -> None:
    watch = started()
    watch.next_page(1.0, final=False)
    for page in range(1, MAX_LOOK_PAGES):
        assert not watch.accept([f"p{page}-{n}" for n in range(10)], found=0, last_page=False, now=1.0)
        assert watch.next_page(1.0, final=False) == page + 1

    assert watch.accept(["x"] * 10, found=0, last_page=False, now=1.0)
    assert watch.overflowed


def test_a_look_refused_before_it_reaches_unmoved_contacts_says_so() -> None:
    watch = started()
    watch.next_page(1.0, final=False)
    assert not watch.accept([f"new-{n}" for n in range(10)], found=10, last_page=False, now=1.0)
    watch.next_page(1.0, final=False)

    watch.stop(1.0)

    assert watch.overflowed
    assert watch.next_page(1.0, final=False) is None  # the next look waits for its interval


def test_the_final_look_starts_at_once_and_ends_the_watch() -> None:
    watch = started()

    assert watch.next_page(0.1, final=True) == 1
    assert not finished(watch)
    assert watch.accept(TOP, found=0, last_page=False, now=0.2)
    assert finished(watch)
    assert watch.next_page(5.0, final=True) is None


def test_a_look_under_way_when_the_walk_ends_is_followed_by_a_final_one() -> None:
    watch = started()
    watch.next_page(1.0, final=False)
    assert not watch.accept([f"m{n}" for n in range(10)], found=0, last_page=False, now=1.1)

    assert watch.next_page(1.1, final=True) == 2, "the look under way goes on"
    assert watch.accept(TOP, found=0, last_page=False, now=1.2)
    assert not finished(watch)
    assert watch.next_page(1.2, final=True) == 1
    assert watch.accept(TOP, found=0, last_page=False, now=1.3)
    assert finished(watch)


def test_final_looks_go_on_while_they_find_contacts() -> None:
    watch = started()

    for _ in range(3):
        assert watch.next_page(0.1, final=True) == 1
        assert watch.accept(["escaped", *TOP], found=1, last_page=False, now=0.2)
        assert not finished(watch)
    assert watch.next_page(0.2, final=True) == 1
    assert watch.accept(TOP, found=0, last_page=False, now=0.3)
    assert finished(watch)


def test_final_looks_are_bounded() -> None:
    watch = started()

    for _ in range(MAX_FINAL_LOOKS):
        assert not finished(watch)
        watch.next_page(0.1, final=True)
        watch.accept(TOP, found=1, last_page=False, now=0.2)
    assert finished(watch)
