"""The scripted upstream speaks each dialect well enough for the official SDKs, streamed and not."""

import json

import anthropic
import openai
from agents import (
    Agent,
    ModelSettings,
    OpenAIChatCompletionsModel,
    OpenAIResponsesModel,
    RunConfig,
    Runner,
    function_tool,
)
from agents.tracing import set_tracing_disabled

from tests.support.scripted_calls import scripted_url

set_tracing_disabled(True)
WEATHER = {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}


async def test_openai_responses_tool_round_streamed_and_not():
    async with scripted_url() as url:
        client = openai.AsyncOpenAI(base_url=url + "/v1", api_key="x")
        tools = [
            {
                "type": "function",
                "name": "get_weather",
                "description": "Weather",
                "parameters": WEATHER,
                "strict": False,
            }
        ]
        first = await client.responses.create(model="m", input="Weather in Paris?", tools=tools)
        calls = [i for i in first.output if i.type == "function_call"]
        assert first.status == "completed" and calls and json.loads(calls[0].arguments) == {"city": "Paris"}
        assert first.output[0].type == "reasoning" and first.output[0].content[0].text.startswith("The user asks")
        async with client.responses.stream(model="m", input="Weather in Paris?", tools=tools) as stream:
            kinds = [event.type async for event in stream]
            final = await stream.get_final_response()
        assert kinds[0] == "response.created" and kinds[-1] == "response.completed"
        assert "response.reasoning_text.delta" in kinds and "response.function_call_arguments.delta" in kinds
        # deterministic: response.completed carries the same items as the non-streamed answer
        same = ("id", "call_id", "arguments", "content")
        assert [[getattr(i, k, None) for k in same] for i in final.output] == [
            [getattr(i, k, None) for k in same] for i in first.output
        ]
        outputs = [{"type": "function_call_output", "call_id": c.call_id, "output": "sunny"} for c in calls]
        second = await client.responses.create(model="m", previous_response_id=first.id, input=outputs, tools=tools)
        assert second.output_text == "Here is what I found: sunny."


async def test_openai_chat_and_both_agents_sdk_models_run_a_tool_loop():
    @function_tool
    def get_weather(city: str) -> str:
        """Weather now."""
        return f"sunny in {city}"

    async with scripted_url(reasoning_field="both") as url:
        client = openai.AsyncOpenAI(base_url=url + "/v1", api_key="x")
        for model in (OpenAIResponsesModel("m", client), OpenAIChatCompletionsModel("m", client)):
            agent = Agent(
                name="a", instructions="Use tools.", tools=[get_weather], model=model, model_settings=ModelSettings()
            )
            for streamed in (False, True):
                if streamed:
                    run = Runner.run_streamed(agent, "Weather in Paris?", run_config=RunConfig(tracing_disabled=True))
                    async for _ in run.stream_events():
                        pass
                else:
                    run = await Runner.run(agent, "Weather in Paris?", run_config=RunConfig(tracing_disabled=True))
                assert run.final_output == "Here is what I found: sunny in Paris.", (model, streamed)


async def test_anthropic_sdk_thinking_and_tool_use_streamed_and_not():
    async with scripted_url() as url:
        client = anthropic.AsyncAnthropic(base_url=url, api_key="x")
        tools = [{"name": "get_weather", "description": "Weather", "input_schema": WEATHER}]
        messages = [{"role": "user", "content": "Weather in Paris?"}]
        args = {"model": "m", "max_tokens": 1024, "tools": tools, "thinking": {"type": "enabled", "budget_tokens": 512}}
        first = await client.messages.create(messages=messages, **args)
        async with client.messages.stream(messages=messages, **args) as stream:
            final = await stream.get_final_message()
        assert final.model_dump() == first.model_dump()
        assert [b.type for b in first.content] == ["thinking", "tool_use"] and first.stop_reason == "tool_use"
        use = first.content[1]
        messages += [
            {"role": "assistant", "content": [b.model_dump() for b in first.content]},
            {"role": "user", "content": [{"type": "tool_result", "tool_use_id": use.id, "content": "sunny"}]},
        ]
        second = await client.messages.create(messages=messages, **args)
        assert second.content[-1].text == "Here is what I found: sunny." and second.stop_reason == "end_turn"


async def test_kimi_style_ids_count_the_conversations_calls_in_every_dialect():
    async with scripted_url(call_ids="kimi") as url:
        client = openai.AsyncOpenAI(base_url=url + "/v1", api_key="x")
        tools = [{"type": "function", "function": {"name": "get_weather", "parameters": WEATHER}}]
        messages: list = [{"role": "user", "content": "Paris?"}]
        first = (await client.chat.completions.create(model="m", messages=messages, tools=tools)).choices[0].message
        assert [c.id for c in first.tool_calls] == ["functions.get_weather:0"]
        messages += [
            first.model_dump(exclude_none=True),
            {"role": "tool", "tool_call_id": "functions.get_weather:0", "content": "sunny"},
        ]
        messages.append({"role": "user", "content": "And Lima?"})
        again = (await client.chat.completions.create(model="m", messages=messages, tools=tools)).choices[0].message
        assert [c.id for c in again.tool_calls] == ["functions.get_weather:1"]
        flat = [{"type": "function", "name": "get_weather", "parameters": WEATHER}]
        response = await client.responses.create(model="m", input="Paris?", tools=flat)
        assert response.output[1].call_id == "functions.get_weather:0"
        claude = anthropic.AsyncAnthropic(base_url=url, api_key="x")
        anthropic_tools = [{"name": "get_weather", "input_schema": WEATHER}]
        message = await claude.messages.create(
            model="m", max_tokens=64, messages=[{"role": "user", "content": "Paris?"}], tools=anthropic_tools
        )
        assert message.content[1].id == "functions.get_weather:0"
