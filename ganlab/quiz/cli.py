"""``python -m ganlab quiz {create,results,export}``: run a quiz from a script.

    python -m ganlab quiz create --real photos/ --fake samples.zip --deck 40 --json
        -> {"code": "7KQ2XD", "owner_key": "..."}
    python -m ganlab quiz create --checkpoint mnist-dcgan --timed --json
    python -m ganlab quiz results 7KQ2XD --owner-key KEY --json
    python -m ganlab quiz export 7KQ2XD --owner-key KEY --out results/

The quiz lives in the same database and pool folder as the app's (``--db`` / ``$GANLAB_QUIZ_DB``,
``--pools`` / ``$GANLAB_QUIZ_POOLS``, both in the data home by default), so participants take a
quiz made here in the app's Quiz tab. Settings are checked by ``QuizSettings.validate``, as in the
app. ``--real`` and ``--fake`` take a folder or .zip of PNG/JPEG/WebP images; ``--checkpoint``
samples a generator (fresh samples for each quiz); without ``--real`` the real images are the
held-out split of the checkpoint's dataset.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from ganlab.quiz.errors import QuizError
from ganlab.quiz.settings import DEFAULT_MAX_PARTICIPANTS, QuizSettings


def add_quiz_commands(commands: Any, common: argparse.ArgumentParser) -> None:
    """Register ``quiz`` and its subcommands on the main parser's subparsers."""
    quiz = commands.add_parser(
        "quiz",
        help="create a spot-the-fake quiz, read its results, export its answers",
        parents=[common],
        description=__doc__.split("\n\n")[0],
    )
    actions = quiz.add_subparsers(dest="quiz_command", required=True, metavar="ACTION")

    def database(parser: argparse.ArgumentParser) -> None:
        parser.add_argument(
            "--db",
            help="quiz database: a path or URL (postgresql://...); default $GANLAB_QUIZ_DB or quiz.sqlite in the data home",
        )

    create = actions.add_parser("create", parents=[common], help="create a quiz; prints its code and owner key")
    create.add_argument("--real", metavar="PATH", help="a folder or .zip of real images")
    create.add_argument(
        "--fake",
        metavar="PATH",
        action="append",
        default=[],
        help="a folder or .zip of generated images (repeat for several generators)",
    )
    create.add_argument(
        "--checkpoint",
        metavar="NAME",
        action="append",
        default=[],
        help="a generator checkpoint to sample the fakes from (a shipped name or a folder; repeatable)",
    )
    create.add_argument("--mode", choices=("single", "pair"), default="single")
    create.add_argument("--timed", action="store_true", help="HYPE-time: flash each image (interleaved staircases)")
    create.add_argument("--deck", type=int, default=20, help="scored trials per participant (default 20)")
    create.add_argument("--practice", type=int, default=0, help="unscored practice trials first (default 0)")
    create.add_argument("--feedback", action="store_true", help="tell participants after each answer (then it is practice)")
    create.add_argument("--confidence", action="store_true", help="ask for a 1-5 confidence with every answer")
    create.add_argument("--qualification", type=float, help="e.g. 0.65: flag participants below it")
    create.add_argument("--title", default="")
    create.add_argument("--display-size", type=int, default=280, help="pixels of the longer side on screen")
    create.add_argument("--max-participants", type=int, default=DEFAULT_MAX_PARTICIPANTS)
    create.add_argument("--seed", type=int, help="seed of the decks (default: random)")
    create.add_argument("--pools", metavar="DIR", help="where image pools are kept (default $GANLAB_QUIZ_POOLS or the data home)")
    create.add_argument("--json", action="store_true", help='print {"code": ..., "owner_key": ...}')
    database(create)
    create.set_defaults(quiz_parser=create)

    results = actions.add_parser("results", parents=[common], help="the owner's report")
    results.add_argument("code")
    results.add_argument("--owner-key", required=True)
    results.add_argument("--exclude-fast", action="store_true", help="leave out answers faster than the quiz's limit")
    results.add_argument("--json", action="store_true", help="the whole report as JSON")
    database(results)

    export = actions.add_parser("export", parents=[common], help="every trial of every deck as CSV and JSON files")
    export.add_argument("code")
    export.add_argument("--owner-key", required=True)
    export.add_argument("--out", required=True, metavar="DIR")
    database(export)


def run_quiz(args: argparse.Namespace) -> int:
    return {"create": _create, "results": _results, "export": _export}[args.quiz_command](args)


def _store(args: argparse.Namespace, images: Any = None):
    from ganlab.quiz.store import QuizStore

    return QuizStore(args.db or None, images)


def _create(args: argparse.Namespace) -> int:
    from ganlab.quiz.pools import PoolCache

    if not args.fake and not args.checkpoint:
        args.quiz_parser.error("give the fakes: --fake PATH (a folder or .zip) or --checkpoint NAME, or both")
    if args.fake and not args.real:
        args.quiz_parser.error("--fake needs --real PATH: the real images to mix in")
    settings = QuizSettings(
        mode=args.mode,
        deck_size=args.deck,
        practice_trials=args.practice,
        feedback=args.feedback,
        timed=args.timed,
        ask_confidence=args.confidence,
        qualification=args.qualification,
        title=args.title,
        display_size=args.display_size,
        max_participants=args.max_participants,
        seed=args.seed,
    ).validate()
    pools = PoolCache(args.pools or None)
    if args.real:
        real, fakes = _pools_from_files(args, settings, pools)
    else:
        real, fakes = _pools_from_checkpoints(args, settings, pools)
    with _store(args, pools.registry()) as store:
        created = store.create_quiz(sources=fakes, real_pool=real, settings=settings)
    if args.json:
        print(json.dumps({"code": created.code, "owner_key": created.owner_key}))
    else:
        print(f"quiz {created.code} is open: participants join with this code in the app's Quiz tab")
        print(f"owner key (keep it; it is not stored): {created.owner_key}")
    return 0


def _pools_from_checkpoints(args: argparse.Namespace, settings: QuizSettings, pools: Any) -> tuple[str, list[str]]:
    from ganlab.quiz.pools import describe_generator

    generators = [describe_generator(name, _checkpoint_folder(name)) for name in args.checkpoint]
    made = pools.prepare(generators, reals=2 * (settings.deck_size + settings.practice_trials))
    return made.real, list(made.fakes.values())


def _checkpoint_folder(name: str) -> Path:
    from ganlab.checkpoints import resolve_checkpoint

    try:
        return resolve_checkpoint(name)
    except ValueError as error:
        raise QuizError(str(error)) from None


def _pools_from_files(args: argparse.Namespace, settings: QuizSettings, pools: Any) -> tuple[str, list[str]]:
    """Real images from --real, fakes from each --fake and fresh samples of each --checkpoint: all
    normalised the same way and kept in the pool folder for the app (ganlab.quiz.sources, as the Quiz
    tab's uploads)."""
    import secrets

    from ganlab.quiz.sources import from_array, keep_image_pools, normalised_set, read_image_set

    size = settings.display_size
    real_images = read_image_set(args.real, what="the real images")
    real = (Path(args.real).stem or "real", normalised_set(real_images, size=size))
    fakes = [
        (Path(path).stem or "generated", normalised_set(read_image_set(path, what=f"the generated images in {path}"), size=size))
        for path in args.fake
    ]
    for name in args.checkpoint:
        from ganlab.checkpoints import load_model
        from ganlab.sampling import generate_images

        generator = load_model(_checkpoint_folder(name), kind="generator", device="cpu")
        if not generator.config.is_image:
            raise QuizError(f"{name} makes 2D points, not images")
        samples, _ = generate_images(generator, max(len(real_images), 200), seed=secrets.randbits(31), device="cpu")
        fakes.append((name, normalised_set(from_array(samples), size=size)))
    return keep_image_pools(real, fakes, settings, pools)


def _results(args: argparse.Namespace) -> int:
    with _store(args) as store:
        report = store.results(args.code, args.owner_key, exclude_fast=args.exclude_fast)
    if args.json:
        print(json.dumps(report.to_dict(), indent=2, ensure_ascii=False))
        return 0
    print(report_text(report))
    return 0


def report_text(report: Any) -> str:
    """The headline numbers as a few lines of text."""
    lines = [f"quiz {report.code}: {report.title} ({report.mode}; {report.n_joined} joined, {report.n_finished} finished)"]
    if not report.measurement:
        lines.append("PRACTICE, not a measurement: feedback was on")
    summary = report.summary
    if summary is None:
        lines.append("no scored answers yet")
    else:

        def rate(name: str, r: Any) -> str:
            return f"{name}: {100 * r.rate:.1f}% ({r.k} of {r.n}; 95% CI {100 * r.low:.1f}-{100 * r.high:.1f}%)"

        lines.append(rate("HYPE-infinity error" if report.measurement else "error in practice", summary.hype_infinity))
        for name, value in (("fake error (fakes judged real)", summary.fake_error), ("real error", summary.real_error)):
            if value is not None:
                lines.append(rate(name, value))
        lines.append(f"p-value against guessing (exact binomial): {summary.p_value_vs_chance}")
        lines.append(f"d': {summary.dprime_mean}")
        for source in summary.per_source:
            lines.append(rate(f"fooled by {source.source}", source.fooled))
        if summary.hype_time_mean_ms is not None:
            lines.append(f"HYPE-time: {summary.hype_time_mean_ms:.0f} ms")
    lines += [f"note: {note}" for note in report.notes]
    return "\n".join(lines)


def _export(args: argparse.Namespace) -> int:
    from ganlab.quiz.deck import normalise_code

    out = Path(args.out)
    with _store(args) as store:
        csv_text = store.export_csv(args.code, args.owner_key)
        json_text = store.export_json(args.code, args.owner_key)
    out.mkdir(parents=True, exist_ok=True)
    code = normalise_code(args.code)
    (out / f"quiz-{code}-trials.csv").write_text(csv_text, encoding="utf-8")
    (out / f"quiz-{code}-trials.json").write_text(json_text, encoding="utf-8")
    print(f"wrote {out / f'quiz-{code}-trials.csv'} and .json", file=sys.stderr)
    return 0
