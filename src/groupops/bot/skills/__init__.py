"""The skill registry: the one extension point of the bot; the built-in skills register here too.

A skill is a :class:`Skill` subclass with a unique ``name``. Hooks:

- ``initial_state()`` — the skill's state before the group's first event.
- ``handle(event, state, context)`` — react to one event; returns a :class:`SkillResult`.
- ``review(actions, context)`` — see (and may adjust) every action of the event before it leaves.

Skills run in ascending ``order``; one that returns ``handled=True`` stops the later ones
from handling the event (rules enforcement runs first, FAQ last). Every enabled skill reviews.
"""

from __future__ import annotations

import importlib
from collections.abc import Iterator
from typing import Any, ClassVar

from groupops.bot.core import Action, Event, SkillContext, SkillResult
from groupops.errors import ConfigurationError, NotFoundError

__all__ = [
    "BUILTIN_SKILL_MODULES",
    "Skill",
    "SkillRegistry",
    "default_registry",
    "register_skill",
]

BUILTIN_SKILL_MODULES = (
    "group_rules",
    "checkin",
    "outfit_poll",
    "draws",
    "welcome",
    "care",
    "faq",
    "quiet_hours",
)


class Skill:
    """Base class of bot skills; override the hooks you need."""

    name: ClassVar[str] = ""
    order: ClassVar[int] = 100
    description: ClassVar[str] = ""

    def initial_state(self) -> Any:
        """The state before the first event (None when the skill keeps none)."""
        return None

    def handle(self, event: Event, state: Any, context: SkillContext) -> SkillResult:
        """React to ``event``; the default does nothing."""
        return SkillResult(state)

    def review(self, actions: tuple[Action, ...], context: SkillContext) -> tuple[Action, ...]:
        """Adjust the event's outgoing actions; the default keeps them as they are."""
        return actions


class SkillRegistry:
    """Skills by name, iterated in ``order``."""

    def __init__(self) -> None:
        self._skills: dict[str, Skill] = {}
        self._ordered: tuple[Skill, ...] | None = None

    def register(self, skill: Skill, *, replace: bool = False) -> Skill:
        """Add ``skill``; a second skill with the same name is refused unless ``replace``."""
        if not skill.name:
            raise ConfigurationError(f"skill {type(skill).__name__} has no name")
        if skill.name in self._skills and not replace:
            raise ConfigurationError(f"a skill named {skill.name!r} is already registered")
        self._skills[skill.name] = skill
        self._ordered = None
        return skill

    def get(self, name: str) -> Skill:
        """The skill called ``name``."""
        try:
            return self._skills[name]
        except KeyError as error:
            raise NotFoundError(f"no bot skill named {name!r}; known: {', '.join(self.names())}") from error

    def names(self) -> tuple[str, ...]:
        """Registered skill names in running order."""
        return tuple(skill.name for skill in self)

    def enabled(self, names: tuple[str, ...] | None) -> list[Skill]:
        """The skills to run: all of them for None, else the named ones (unknown names refused)."""
        if names is None:
            return list(self)
        chosen = {self.get(name).name for name in names}
        return [skill for skill in self if skill.name in chosen]

    def __iter__(self) -> Iterator[Skill]:
        if self._ordered is None:  # sorted once per registration, not once per event
            self._ordered = tuple(sorted(self._skills.values(), key=lambda skill: (skill.order, skill.name)))
        return iter(self._ordered)

    def __len__(self) -> int:
        return len(self._skills)

    def __contains__(self, name: object) -> bool:
        return name in self._skills


default_registry = SkillRegistry()


def register_skill(skill: Skill, *, registry: SkillRegistry | None = None, replace: bool = False) -> Skill:
    """Register ``skill`` in ``registry`` (the default registry unless given)."""
    return (registry if registry is not None else default_registry).register(skill, replace=replace)


def _load_builtin_skills() -> None:
    for module_name in BUILTIN_SKILL_MODULES:
        importlib.import_module(f"{__name__}.{module_name}")


_load_builtin_skills()
