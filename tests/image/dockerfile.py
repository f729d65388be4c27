"""A small Dockerfile reader: enough to check the image's build without a Docker engine.

It follows the Dockerfile reference's lexical rules that the project's Dockerfile uses:
parser directives and comments, backslash line continuations, instructions as a keyword plus
arguments, build stages starting at each FROM, and targets built FROM an earlier stage (whose
instructions they inherit).
"""

from __future__ import annotations

import json
import re
import shlex
from dataclasses import dataclass, field
from pathlib import Path

KNOWN_INSTRUCTIONS = {
    "ADD", "ARG", "CMD", "COPY", "ENTRYPOINT", "ENV", "EXPOSE", "FROM", "HEALTHCHECK",
    "LABEL", "MAINTAINER", "ONBUILD", "RUN", "SHELL", "STOPSIGNAL", "USER", "VOLUME", "WORKDIR",
}  # fmt: skip
INSTRUCTION = re.compile(r"^(?P<keyword>[A-Za-z]+)\s+(?P<arguments>.*)$", re.DOTALL)


class DockerfileError(ValueError):
    pass


@dataclass(frozen=True)
class Instruction:
    keyword: str
    arguments: str
    line: int

    def exec_form(self) -> list[str]:
        """The JSON array form of CMD/ENTRYPOINT/RUN; an error for the shell form."""
        parsed = json.loads(self.arguments)
        if not (isinstance(parsed, list) and all(isinstance(a, str) for a in parsed)):
            raise DockerfileError(f"line {self.line}: not an exec-form array")
        return parsed

    def pairs(self) -> dict[str, str]:
        """key=value pairs of ENV, LABEL and ARG (quotes removed)."""
        result: dict[str, str] = {}
        for token in shlex.split(self.arguments):
            key, sep, value = token.partition("=")
            if not sep and self.keyword != "ARG":
                raise DockerfileError(f"line {self.line}: {token!r} is not key=value")
            result[key] = value
        return result


@dataclass
class Stage:
    base: str
    name: str | None
    instructions: list[Instruction] = field(default_factory=list)

    def all(self, keyword: str) -> list[Instruction]:
        return [i for i in self.instructions if i.keyword == keyword]

    def last(self, keyword: str) -> Instruction:
        found = self.all(keyword)
        if not found:
            raise DockerfileError(f"stage {self.name or self.base} has no {keyword}")
        return found[-1]


@dataclass
class Dockerfile:
    global_args: dict[str, str]
    stages: list[Stage]

    @property
    def final(self) -> Stage:
        return self.stages[-1]

    def stage(self, name: str) -> Stage:
        (found,) = [s for s in self.stages if s.name == name]
        return found

    def chain(self, name: str) -> list[Stage]:
        """A target and the stages it is built FROM, outermost first, the target last."""
        stages = [self.stage(name)]
        while stages[0].base in {s.name for s in self.stages}:
            if len(stages) > len(self.stages):
                raise DockerfileError(f"stage {name} is built from itself")
            stages.insert(0, self.stage(stages[0].base))
        return stages

    def image_base(self, name: str) -> str:
        """The image a target finally starts from, with global ARGs substituted."""
        base = self.chain(name)[0].base
        return re.sub(r"\$\{(\w+)\}", lambda m: self.global_args[m[1]], base)

    def effective(self, name: str, keyword: str) -> list[Instruction]:
        """A keyword's instructions as the target's image gets them, inherited ones first."""
        return [i for stage in self.chain(name) for i in stage.all(keyword)]

    def effective_last(self, name: str, keyword: str) -> Instruction:
        found = self.effective(name, keyword)
        if not found:
            raise DockerfileError(f"target {name} has no {keyword}")
        return found[-1]

    def effective_pairs(self, name: str, keyword: str) -> dict[str, str]:
        """ENV or LABEL as the target's image ends up with them (later values win)."""
        pairs: dict[str, str] = {}
        for instruction in self.effective(name, keyword):
            pairs.update(instruction.pairs())
        return pairs


def logical_lines(text: str) -> list[tuple[int, str]]:
    """Join continuation lines, dropping comments and blank lines; keep first line numbers."""
    lines: list[tuple[int, str]] = []
    pending: list[str] = []
    start = 0
    for number, raw in enumerate(text.splitlines(), start=1):
        stripped = raw.strip()
        if stripped.startswith("#") or (not stripped and not pending):
            continue
        if not pending:
            start = number
        if stripped.endswith("\\"):
            pending.append(stripped[:-1].rstrip())
            continue
        pending.append(stripped)
        lines.append((start, " ".join(part for part in pending if part)))
        pending = []
    if pending:
        raise DockerfileError(f"line {start}: continuation runs past the end of the file")
    return lines


def parse(text: str) -> Dockerfile:
    global_args: dict[str, str] = {}
    stages: list[Stage] = []
    for number, line in logical_lines(text):
        match = INSTRUCTION.match(line)
        if not match:
            raise DockerfileError(f"line {number}: not an instruction: {line!r}")
        keyword = match["keyword"].upper()
        if keyword not in KNOWN_INSTRUCTIONS:
            raise DockerfileError(f"line {number}: unknown instruction {keyword}")
        instruction = Instruction(keyword, match["arguments"].strip(), number)
        if keyword == "FROM":
            words = instruction.arguments.split()
            name = words[2] if len(words) == 3 and words[1].upper() == "AS" else None
            if len(words) not in (1, 3) or (len(words) == 3 and name is None):
                raise DockerfileError(f"line {number}: FROM <image> [AS <name>]")
            stages.append(Stage(base=words[0], name=name))
        elif not stages:
            if keyword != "ARG":
                raise DockerfileError(f"line {number}: only ARG may come before the first FROM")
            global_args.update(instruction.pairs())
        else:
            stages[-1].instructions.append(instruction)
    if not stages:
        raise DockerfileError("no FROM instruction")
    return Dockerfile(global_args, stages)


def load(path: Path) -> Dockerfile:
    return parse(path.read_text())
