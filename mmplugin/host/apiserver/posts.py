"""Posts, reactions and ephemeral posts of the in-memory host."""

from __future__ import annotations

import copy
from collections import deque
from dataclasses import dataclass, field

from mmplugin.host.apiserver.directory import Directory, page_of
from mmplugin.host.apiserver.errors import ApiError, not_found
from mmplugin.host.ids import new_id
from mmplugin.proto import pb

EPHEMERAL_KEPT = 1000


@dataclass
class Posts:
    directory: Directory
    posts: dict[str, pb.Post] = field(default_factory=dict)
    reactions: dict[tuple[str, str, str], pb.Reaction] = field(default_factory=dict)
    ephemeral: deque[tuple[str, pb.Post]] = field(default_factory=lambda: deque(maxlen=EPHEMERAL_KEPT))
    """``(user id, post)`` of the latest ephemeral posts, newest last."""

    def create(self, post: pb.Post) -> pb.Post:
        post = copy.deepcopy(post)
        channel = self.directory.channels.get(post.channel_id)
        if channel is None:
            raise ApiError("api.post.create_post.channel.app_error", "The post's channel does not exist.", 400,
                           where="CreatePost")
        if post.root_id:
            root = self._post(post.root_id)
            root.reply_count += 1
            root.last_reply_at = self.directory.now()
        post.id = new_id()
        post.create_at = post.update_at = self.directory.now()
        self.posts[post.id] = post
        channel.last_post_at = post.create_at
        channel.total_msg_count += 1
        return copy.deepcopy(post)

    def _post(self, post_id: str) -> pb.Post:
        post = self.posts.get(post_id)
        if post is None or post.delete_at:
            raise not_found("post", post_id, "app.post.get.app_error")
        return post

    def get(self, post_id: str) -> pb.Post:
        return copy.deepcopy(self._post(post_id))

    def update(self, post: pb.Post) -> pb.Post:
        current = self._post(post.id)
        current.message = post.message
        current.props = copy.deepcopy(post.props)
        current.file_ids = list(post.file_ids)
        current.is_pinned = post.is_pinned
        current.update_at = current.edit_at = self.directory.now()
        return copy.deepcopy(current)

    def delete(self, post_id: str) -> None:
        self._post(post_id).delete_at = self.directory.now()

    def send_ephemeral(self, user_id: str, post: pb.Post) -> pb.Post:
        post = copy.deepcopy(post)
        post.id = post.id or new_id()
        post.create_at = post.update_at = self.directory.now()
        post.type = post.type or "system_ephemeral"
        self.ephemeral.append((user_id, post))
        return copy.deepcopy(post)

    def for_channel(self, channel_id: str, page: int, per_page: int) -> pb.PostList:
        self.directory.get_channel(channel_id)
        newest_first = sorted((p for p in self.posts.values() if p.channel_id == channel_id and not p.delete_at),
                              key=lambda p: p.create_at, reverse=True)
        return _post_list(page_of(newest_first, page, per_page))

    def thread(self, post_id: str) -> pb.PostList:
        root_id = self._post(post_id).root_id or post_id
        thread = [p for p in self.posts.values() if (p.id == root_id or p.root_id == root_id) and not p.delete_at]
        return _post_list(sorted(thread, key=lambda p: p.create_at, reverse=True))

    def add_reaction(self, reaction: pb.Reaction) -> pb.Reaction:
        post = self._post(reaction.post_id)
        if not reaction.emoji_name or not reaction.user_id:
            raise ApiError("model.reaction.is_valid.emoji_name.app_error", "A reaction needs a user and an emoji.",
                           400, where="AddReaction")
        reaction = copy.deepcopy(reaction)
        reaction.create_at = reaction.update_at = self.directory.now()
        reaction.channel_id = post.channel_id
        self.reactions[(reaction.post_id, reaction.user_id, reaction.emoji_name)] = reaction
        post.has_reactions = True
        return copy.deepcopy(reaction)

    def remove_reaction(self, reaction: pb.Reaction) -> None:
        post = self._post(reaction.post_id)
        self.reactions.pop((reaction.post_id, reaction.user_id, reaction.emoji_name), None)
        post.has_reactions = any(key[0] == post.id for key in self.reactions)

    def get_reactions(self, post_id: str) -> list[pb.Reaction]:
        return [copy.deepcopy(r) for key, r in sorted(self.reactions.items()) if key[0] == post_id]


def _post_list(posts: list[pb.Post]) -> pb.PostList:
    return pb.PostList(order=[p.id for p in posts], posts={p.id: copy.deepcopy(p) for p in posts})


__all__ = ["Posts"]
